-- The threshold-free curve's summaries over revisions (view topk_summary), by relation and by frequency bucket
-- ('*': all facts): the mean normalised area and the mean smallest k reaching 80 % of the clean reward, over the
-- facts with a denominator (n_facts), with their stored intervals (view group_bands: <measure>_lower, _upper, _n).
WITH per_group AS (
    SELECT d.dimension, CASE WHEN d.dimension = 'relation' THEN t.relation ELSE t.bucket END AS grp, t.revision, t.ordinal,
           count(t.area) AS n_facts, avg(t.area) AS topk_area, avg(t.k80) AS topk_k80
    FROM topk_summary t
    JOIN (VALUES ('relation'), ('bucket')) d(dimension) ON true
    WHERE t.analysis_id = $analysis
    GROUP BY ALL
), whole AS (
    SELECT d.dimension, '*' AS grp, t.revision, t.ordinal, count(t.area) AS n_facts, avg(t.area) AS topk_area, avg(t.k80) AS topk_k80
    FROM topk_summary t JOIN (VALUES ('relation'), ('bucket')) d(dimension) ON true
    WHERE t.analysis_id = $analysis
    GROUP BY ALL
), shown AS (
    SELECT g.*, a.x_step, a.x_tokens
    FROM (SELECT * FROM per_group UNION ALL SELECT * FROM whole) g
    JOIN revision_axis a ON a.analysis_id = $analysis AND a.revision = g.revision
)
SELECT s.*, b.* EXCLUDE (analysis_id, revision, scope, category)
FROM shown s
LEFT JOIN group_bands b ON b.analysis_id = $analysis AND b.revision = s.revision
     AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
