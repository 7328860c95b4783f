-- Which position graft recovers the facts learned between consecutive revisions, pooled over all pairs:
-- the share of the learned facts it answers top-1, and how many learnings that rests on.
SELECT config, sum(n_learned) AS n_learned, any_value(n_pairs_all) AS n_pairs,
       sum(learned_top1 * n_learned) / nullif(sum(n_learned), 0) AS learned_top1
FROM (SELECT *, sum(n_pairs) OVER (PARTITION BY config) AS n_pairs_all FROM graft_pathways)
WHERE learned_top1 IS NOT NULL OR n_learned = 0
GROUP BY config ORDER BY config;
