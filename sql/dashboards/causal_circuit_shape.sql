-- Circuit size, mean layer, and node and edge IoU with the last revision's over revisions (view circuit_shape_by_revision), by bucket.
-- <measure>_lower, <measure>_upper, <measure>_n: the stored interval of each measure (view group_bands: a bootstrap
-- over the group's facts) and the facts it rests on.
WITH shown AS (
    SELECT 'bucket' AS dimension, c.bucket AS grp, c.revision, a.ordinal, a.x_step, a.x_tokens, c.n_facts,
           c.mean_components, c.mean_layer, c.mean_iou_final, c.mean_edge_iou_final
    FROM circuit_shape_by_revision c JOIN revision_axis a USING (analysis_id, revision)
    WHERE c.analysis_id = $analysis
)
SELECT s.*, b.* EXCLUDE (analysis_id, revision, scope, category)
FROM shown s
LEFT JOIN group_bands b ON b.analysis_id = $analysis AND b.revision = s.revision
     AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
