-- Circuit size, mean layer and IoU with the last revision's over revisions (view circuit_shape_by_revision), by bucket.
SELECT 'bucket' AS dimension, c.bucket AS grp, c.revision, a.ordinal, a.x_step, a.x_tokens, c.n_facts,
       c.mean_components, c.mean_layer, c.mean_iou_final
FROM circuit_shape_by_revision c JOIN revision_axis a USING (analysis_id, revision)
WHERE c.analysis_id = $analysis
ORDER BY 1 DESC, 2, 4;
