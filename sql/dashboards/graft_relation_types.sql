-- Location against name relations: per position graft and band of training (and 'all': every band), the
-- share of the facts learned between consecutive revisions that the graft answers right, pooled over the pairs,
-- with its stored interval (lower, upper) and the location-minus-name test of the graft (over all pairs: p_adjusted,
-- finding).
WITH pooled AS (
    SELECT r.relation AS relation_type, r.config, CASE WHEN GROUPING(r.band) = 1 THEN 'all' ELSE r.band END AS band,
           sum(r.n_learned)::BIGINT AS n_learned, sum(r.n_learned_top1) / nullif(sum(r.n_learned), 0) AS learned_top1
    FROM graft_recovery r
    WHERE r.analysis_id = $analysis AND r.scope = 'relation_type' AND r.consecutive AND r.component = 'all'
    GROUP BY GROUPING SETS ((r.relation, r.config, r.band), (r.relation, r.config))
)
SELECT p.*, i.lower, i.upper, c.p_adjusted, c.finding
FROM pooled p
LEFT JOIN intervals i ON i.analysis_id = $analysis AND i.measure = 'graft_recovery' AND i.revision IS NULL
     AND i.scope = p.relation_type AND i.category = p.config AND i.to_category = p.band
LEFT JOIN comparisons c ON c.analysis_id = $analysis AND c.family = 'grafting:relation_type' AND c.subject = p.config
     AND p.band = 'all'
ORDER BY p.relation_type, p.config, p.band;
