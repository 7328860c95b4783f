-- Each component's mean single-component effect on each relation's measured facts, at every revision with
-- effects (view component_effect_roles), with its IFR and causal roles for the relation.
SELECT revision, ordinal, relation, kind, layer, head, n_facts, mean_effect, estimated, mean_delta_reward, mean_atp, mean_importance,
       n_causal_facts, ifr_role, causal_role
FROM component_effect_roles
WHERE analysis_id = $analysis
ORDER BY ordinal, relation, kind DESC, layer, head;
