-- Location against name relations: per position graft and band of training, the share of the facts
-- learned between consecutive revisions that the graft answers right, pooled over the band's pairs.
SELECT r.relation AS relation_type, r.config, r.band, sum(r.n_learned)::BIGINT AS n_learned,
       sum(r.learned_top1 * r.n_learned) / nullif(sum(r.n_learned), 0) AS learned_top1
FROM graft_recovery r
WHERE r.analysis_id = $analysis AND r.scope = 'relation_type' AND r.consecutive AND r.component = 'all'
GROUP BY ALL
UNION ALL
SELECT r.relation, r.config, 'all', sum(r.n_learned)::BIGINT, sum(r.learned_top1 * r.n_learned) / nullif(sum(r.n_learned), 0)
FROM graft_recovery r
WHERE r.analysis_id = $analysis AND r.scope = 'relation_type' AND r.consecutive AND r.component = 'all'
GROUP BY ALL
ORDER BY relation_type, config, band;
