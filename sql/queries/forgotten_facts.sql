-- Facts that lost top-1 at least once after having it (view fact_forgetting): how often they lost and regained it, when first right, first and last lost, and whether right at the last revision; most often lost first.
SELECT n.name AS analysis, f.relation, f.subject, f.object, f.bucket, f.n_lost, f.n_regained, f.first_top1, f.first_lost,
       f.last_lost, f.top1_final
FROM fact_forgetting f JOIN analyses n USING (analysis_id)
WHERE f.n_lost > 0
ORDER BY analysis, f.n_lost DESC, f.relation, f.subject;
