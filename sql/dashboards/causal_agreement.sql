-- IFR circuits against causal ground truth over revisions (view effect_agreement), by relation and by frequency
-- bucket ('*': all measured facts): mean precision, recall and IoU of each fact's IFR circuit against its causal
-- circuit, Spearman's rho of IFR importance with each component's cost, and attribution patching's rho with the
-- ablation, with their stored intervals (view group_bands: <measure>_lower, _upper, _n).
WITH facts AS (
    SELECT d.dimension, CASE WHEN d.dimension = 'relation' THEN a.relation ELSE a.bucket END AS grp, a.*
    FROM effect_agreement a JOIN (VALUES ('relation'), ('bucket')) d(dimension) ON true
    WHERE a.analysis_id = $analysis
), per_group AS (
    SELECT dimension, grp, revision, ordinal, count(*) AS n_facts, avg(precision) AS effect_precision, avg(recall) AS effect_recall,
           avg(iou) AS effect_iou, avg(spearman) AS effect_spearman, avg(atp_spearman) AS atp_spearman
    FROM facts GROUP BY ALL
), whole AS (
    SELECT dimension, '*' AS grp, revision, ordinal, count(*) AS n_facts, avg(precision) AS effect_precision,
           avg(recall) AS effect_recall, avg(iou) AS effect_iou, avg(spearman) AS effect_spearman, avg(atp_spearman) AS atp_spearman
    FROM facts GROUP BY ALL
), shown AS (
    SELECT g.*, x.x_step, x.x_tokens
    FROM (SELECT * FROM per_group UNION ALL SELECT * FROM whole) g
    JOIN revision_axis x ON x.analysis_id = $analysis AND x.revision = g.revision
)
SELECT s.*, b.* EXCLUDE (analysis_id, revision, scope, category)
FROM shown s
LEFT JOIN group_bands b ON b.analysis_id = $analysis AND b.revision = s.revision
     AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
