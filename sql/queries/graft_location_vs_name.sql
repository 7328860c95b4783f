-- Location against name relations: per position graft, the share of the facts learned between
-- consecutive revisions that it recovers, pooled over all pairs, per relation type.
SELECT n.name AS analysis, r.model, r.relation AS relation_type, r.config, sum(r.n_learned)::BIGINT AS n_learned,
       round(sum(r.n_learned_top1) / nullif(sum(r.n_learned), 0), 3) AS learned_top1
FROM graft_recovery r JOIN analyses n USING (analysis_id)
WHERE r.scope = 'relation_type' AND r.consecutive AND r.component = 'all'
GROUP BY ALL
ORDER BY analysis, relation_type, r.config;
