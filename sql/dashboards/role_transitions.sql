-- Markov role transitions, relations pooled: per consecutive pair of revisions, and over all pairs
-- (from_revision '*', from_ordinal -1). p is NULL where the from-role had no members (undefined). p_lower,
-- p_upper: its stored interval (facts resampled within relations, roles re-classified at both revisions).
SELECT t.from_revision, t.to_revision, coalesce(t.from_ordinal, -1) AS from_ordinal, t.kind,
       t.from_role, t.to_role, t.from_order, t.to_order, t.n, t.p, i.lower AS p_lower, i.upper AS p_upper
FROM role_transitions t
LEFT JOIN intervals i ON i.analysis_id = $analysis AND i.measure = 'transition' AND i.relation = '*'
     AND i.revision IS NOT DISTINCT FROM nullif(t.from_revision, '*') AND i.scope = t.kind AND i.category = t.from_role
     AND i.to_category = t.to_role
WHERE t.analysis_id = $analysis AND t.relation = '*'
ORDER BY t.from_ordinal NULLS FIRST, t.kind, t.from_order, t.to_order;
