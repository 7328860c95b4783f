-- Mean |score| of the components by their role at revision k (rows) and at k+1 (columns), pooled over
-- the pairs of consecutive revisions and over relations (view extractive_transitions).
SELECT t.kind, t.from_role, f.role_order AS from_order, t.to_role, o.role_order AS to_order,
       sum(t.n_components)::BIGINT AS n,
       sum(t.mean_abs_informative * t.n_components) / sum(t.n_components) AS informative,
       sum(t.mean_abs_upstream * t.n_components) / sum(t.n_components) AS upstream,
       sum(t.mean_abs_downstream * t.n_components) / sum(t.n_components) AS downstream
FROM extractive_transitions t
JOIN role_names f ON f.role = t.from_role
JOIN role_names o ON o.role = t.to_role
WHERE t.analysis_id = $analysis
GROUP BY ALL
ORDER BY t.kind, from_order, to_order;
