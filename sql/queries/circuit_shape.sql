-- Circuit size and place over training: per revision and frequency bucket ('*': all facts), the mean number of components (heads, FFNs) in a fact's circuit, their mean layer, and the IoU of its component set with the last revision's.
SELECT n.name AS analysis, c.revision, c.bucket, c.n_facts, round(c.mean_components, 1) AS components,
       round(c.mean_heads, 1) AS heads, round(c.mean_ffns, 2) AS ffns, round(c.mean_layer, 3) AS mean_layer,
       round(c.mean_iou_final, 3) AS iou_final
FROM circuit_shape_by_revision c JOIN analyses n USING (analysis_id)
ORDER BY analysis, c.ordinal, c.bucket;
