"""Role scores and roles on hand-made activity maps with known answers."""

import torch

from trajectory.roles.scores import ROLES, assign_roles, role_scores


def test_scores_and_roles_by_successive_differencing():
    # 3 prompts (relations 0, 0, 1), 4 positions, 5 components.
    n, t, c = 3, 4, 5
    activity = torch.zeros(n, t, c, dtype=torch.bool)
    valid = torch.ones(n, t, dtype=torch.bool)
    valid[2, 3] = False
    subject = torch.zeros(n, t, dtype=torch.bool)
    subject[:, 0] = True
    predicting = torch.zeros(n, t, dtype=torch.bool)
    predicting[:, 2] = True  # answer at position 3, predicted from 2
    predicting[2, 2], predicting[2, 1] = True, True  # prompt 2: two answer subtokens
    relation_of = torch.tensor([0, 0, 1])

    activity[:, :, 0] = True  # component 0: everywhere -> general
    activity[:, 0, 1] = True  # component 1: subject positions only -> entity
    activity[0, 2, 2] = activity[1, 2, 2] = True  # component 2: answers of relation 0 -> relation (for r0)
    activity[2, 1, 3] = True  # component 3: half of prompt 2's answer positions -> fact (for r1)
    # component 4: never active -> deactivated

    scores = role_scores(activity, valid, subject, predicting, relation_of, 2)
    torch.testing.assert_close(scores.general[0], torch.tensor(1.0))
    torch.testing.assert_close(scores.general[1], torch.tensor((1 / 4 + 1 / 4 + 1 / 3) / 3))
    # entity: (subject hits 3 + answer hits 0) / (3 subject + 4 answer positions)
    torch.testing.assert_close(scores.entity[1], torch.tensor(3 / 7))
    torch.testing.assert_close(scores.relation[0, 2], torch.tensor(1.0))
    torch.testing.assert_close(scores.relation[1, 2], torch.tensor(0.0))
    torch.testing.assert_close(scores.fact[2, 3], torch.tensor(0.5))
    torch.testing.assert_close(scores.relation[1, 3], torch.tensor(0.5))

    # θ = 0.1 makes component 1 general (c^g = 0.28); at θ = 0.3 it is an entity component (c^e = 3/7).
    assert ROLES[assign_roles(scores, relation_of, 2, theta=0.1)[0, 1]] == "general"
    roles = assign_roles(scores, relation_of, 2, theta=0.3)
    names = [[ROLES[i] for i in row] for row in roles.tolist()]
    assert names[0] == ["general", "entity", "relation", "deactivated", "deactivated"]
    # For relation 1, component 3 has c^r = 0.5 > θ: relation comes before fact.
    assert names[1] == ["general", "entity", "deactivated", "relation", "deactivated"]
    # With θ above the relation score but below the fact score, it is a fact component.
    roles = assign_roles(scores, relation_of, 2, theta=0.45)
    assert ROLES[roles[1, 3]] == "relation"
    scores.relation[1, 3] = 0.2
    roles = assign_roles(scores, relation_of, 2, theta=0.45)
    assert ROLES[roles[1, 3]] == "fact"
