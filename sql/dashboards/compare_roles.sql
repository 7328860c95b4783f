-- Role counts and IoU with each analysis's final revision, for the analyses compared ($analyses, one
-- model), per relation ('*' pools the (relation, component) pairs), one series per analysis and role. The
-- analysis is named without its model (the page's), so legends stay short.
SELECT regexp_replace(n.name, '^[^/]*/', '') AS analysis, list_position($analyses, i.analysis_id) AS analysis_order, i.relation, i.kind, i.role,
       r.role_order, i.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, i.n_here AS n, i.iou
FROM role_iou i
JOIN analyses n USING (analysis_id)
JOIN role_names r USING (role)
JOIN revision_axis a USING (analysis_id, revision)
WHERE list_contains($analyses, i.analysis_id) AND i.role <> 'deactivated'
ORDER BY analysis_order, i.relation, i.kind, r.role_order, a.ordinal;
