-- Share of the informative, upstream and downstream scores carried by each role, pooled over the pairs of
-- consecutive revisions (pretraining) or the revisions' finetunings (finetune), per analysis; roles differ
-- in size, so also the mean |score| per component of the role.
SELECT n.name AS analysis, s.model, s.measure, s.hop, s.score, s.part AS role,
       sum(s.magnitude) / sum(sum(s.magnitude)) OVER (PARTITION BY s.analysis_id, s.measure, s.hop, s.score) AS share,
       sum(s.magnitude) / sum(s.n_components) AS mean_abs_per_component, sum(s.total) AS total
FROM extractive_shares s JOIN analyses n USING (analysis_id)
WHERE s.split = 'role'
GROUP BY n.name, s.analysis_id, s.model, s.measure, s.hop, s.score, s.part
ORDER BY analysis, s.measure, s.hop, s.score, share DESC;
