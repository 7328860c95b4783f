-- Do components that change role between revisions k and k+1 carry more of what was learned between them?
-- Mean |score| of components whose role changed against those whose role stayed, pooled over revisions.
SELECT n.name AS analysis, t.model, t.kind, t.changed, sum(t.n_components)::BIGINT AS n,
       sum(t.mean_abs_informative * t.n_components) / sum(t.n_components) AS mean_abs_informative,
       sum(t.mean_abs_upstream * t.n_components) / sum(t.n_components) AS mean_abs_upstream,
       sum(t.mean_abs_downstream * t.n_components) / sum(t.n_components) AS mean_abs_downstream
FROM extractive_transitions t JOIN analyses n USING (analysis_id)
GROUP BY ALL
ORDER BY analysis, t.kind, t.changed;
