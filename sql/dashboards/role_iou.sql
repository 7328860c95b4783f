-- IoU of each role set with the same set at the final revision (view role_iou; NULL when both are
-- empty). Relation '*' pools the (relation, component) pairs of all relations. lower, upper: the stored interval.
SELECT i.relation, i.kind, i.role, n.role_order, i.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known,
       i.iou, i.n_here, i.n_final, i.n_shared, b.lower, b.upper
FROM role_iou i
JOIN role_names n USING (role)
JOIN revision_axis a USING (analysis_id, revision)
LEFT JOIN intervals b ON b.analysis_id = $analysis AND b.measure = 'role_iou' AND b.revision = i.revision AND b.scope = i.kind
     AND b.category = i.role AND b.relation = i.relation
WHERE i.analysis_id = $analysis AND i.role <> 'deactivated'
ORDER BY i.relation, i.kind, n.role_order, a.ordinal;
