-- Component grafts at LT over layer ranges per consecutive pair (view graft_layer_roles, relations
-- pooled), with the roles at the donor revision of the components in each range.
SELECT g.revision, g.donor_revision, g.ordinal, g.component, g.layers, g.n_learned, g.n_learned_top1, g.learned_top1, g.top1_recovery,
       g.n_fact, g.n_relation, g.n_entity, g.n_general, g.n_new_fact_relation
FROM graft_layer_roles g
WHERE g.analysis_id = $analysis AND g.relation = '*' AND g.consecutive
ORDER BY g.ordinal, g.component, g.layers;
