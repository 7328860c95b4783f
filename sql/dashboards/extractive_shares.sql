-- Share of each score carried by each role (view extractive_shares, split = 'role'), per revision.
SELECT s.measure, s.hop, s.score, s.part AS role, n.role_order, s.revision, a.ordinal, a.x_step, a.x_tokens,
       s.share, s.total, s.n_components
FROM extractive_shares s
JOIN role_names n ON n.role = s.part
JOIN revision_axis a USING (analysis_id, revision)
WHERE s.analysis_id = $analysis AND s.split = 'role'
ORDER BY s.measure DESC, s.hop, s.score, n.role_order, a.ordinal;
