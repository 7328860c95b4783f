-- Which pathway carries the facts learned between consecutive revisions, and when (view graft_pathways):
-- per band of training (thirds of the revisions), the share of the learned facts that B's weights at the
-- subject's tokens (FE, enrichment), at the last token (LT, recall), at both, or at the complements recover.
SELECT n.name AS analysis, p.model, p.band, p.config, p.n_pairs, p.n_learned, round(p.learned_top1, 3) AS learned_top1,
       round(p.learned_top5, 3) AS learned_top5
FROM graft_pathways p JOIN analyses n USING (analysis_id)
ORDER BY analysis, CASE p.band WHEN 'early' THEN 0 WHEN 'middle' THEN 1 ELSE 2 END, p.config;
