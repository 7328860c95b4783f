-- Location against name relations: per position graft and band of training (and 'all': every band), the
-- share of the facts learned between consecutive revisions that the graft answers right, pooled over the pairs.
SELECT r.relation AS relation_type, r.config, CASE WHEN GROUPING(r.band) = 1 THEN 'all' ELSE r.band END AS band, sum(r.n_learned)::BIGINT AS n_learned,
       sum(r.n_learned_top1) / nullif(sum(r.n_learned), 0) AS learned_top1
FROM graft_recovery r
WHERE r.analysis_id = $analysis AND r.scope = 'relation_type' AND r.consecutive AND r.component = 'all'
GROUP BY GROUPING SETS ((r.relation, r.config, r.band), (r.relation, r.config))
ORDER BY relation_type, r.config, band;
