-- The role of every head and FFN per relation and revision of $analysis (deactivated where absent).
SELECT r.relation, v.ordinal, r.kind, r.layer, coalesce(r.head, -1) AS head, r.role
FROM roles r JOIN revisions v USING (analysis_id, revision)
WHERE r.analysis_id = $analysis AND r.role <> 'deactivated'
ORDER BY r.relation, v.ordinal, r.kind, r.layer, head;
