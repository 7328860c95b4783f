-- Are the layers whose component grafts at the last token recover the newly learned facts the ones where
-- fact or relation roles appear at k+1? Per component and layer range, pooled over consecutive pairs:
-- the share of learned facts recovered, beside the fact / relation roles in those layers at the donor
-- revision (summed over relations and pairs) and how many of them were new there.
SELECT n.name AS analysis, g.model, g.component, g.layers, sum(g.n_learned)::BIGINT AS n_learned,
       round(sum(g.n_learned_top1) / nullif(sum(g.n_learned), 0), 3) AS learned_top1,
       sum(g.n_fact)::BIGINT AS fact_roles, sum(g.n_relation)::BIGINT AS relation_roles, sum(g.n_new_fact_relation)::BIGINT AS new_fact_relation_roles
FROM graft_layer_roles g JOIN analyses n USING (analysis_id)
WHERE g.relation = '*' AND g.consecutive
GROUP BY ALL
ORDER BY analysis, g.component, g.layers;
