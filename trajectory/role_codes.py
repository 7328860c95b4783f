"""The role codes every floor shares (METHOD.md §4): a component's role is an index into ROLES. Ground floor:
the role math (trajectory.roles), the ablation plan, the statistics and the pages all read them here."""

ROLES = ("general", "entity", "relation", "fact", "deactivated")
GENERAL, ENTITY, RELATION, FACT, DEACTIVATED = range(5)
