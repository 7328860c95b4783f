-- Role counts and IoU with each analysis's final revision, for the analyses compared ($analyses, one
-- model), per relation ('*' pools the (relation, component) pairs), one series per analysis and role. The
-- analysis is named without its model (the page's), so legends stay short. n: (relation, component) members of the
-- set; iou_lower, iou_upper: the IoU's stored interval (facts resampled within relations).
SELECT regexp_replace(n.name, '^[^/]*/', '') AS analysis, list_position($analyses, i.analysis_id) AS analysis_order, i.relation, i.kind, i.role,
       r.role_order, i.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, i.n_here AS n, i.iou,
       b.lower AS iou_lower, b.upper AS iou_upper
FROM role_iou i
JOIN analyses n USING (analysis_id)
JOIN role_names r USING (role)
JOIN revision_axis a USING (analysis_id, revision)
LEFT JOIN intervals b ON b.analysis_id = i.analysis_id AND b.measure = 'role_iou' AND b.revision = i.revision AND b.scope = i.kind
     AND b.category = i.role AND b.relation = i.relation
WHERE list_contains($analyses, i.analysis_id) AND i.role <> 'deactivated'
ORDER BY analysis_order, i.relation, i.kind, r.role_order, a.ordinal;
