-- IoU of two sets from their sizes and their intersection's: NULL where both are empty (undefined, as
-- trajectory.stats.roles.set_iou's NaN). Every IoU of the views is this one.
CREATE OR REPLACE MACRO iou(n_shared, n_a, n_b) AS CASE WHEN n_a + n_b - n_shared > 0 THEN n_shared / (n_a + n_b - n_shared) END;

-- The 95 % Wilson score interval of a share k / n (trajectory.stats.wilson_interval's; NULL where n = 0).
CREATE OR REPLACE MACRO wilson_lower(k, n) AS CASE WHEN n > 0 THEN greatest(0.0,
    (k / n + 1.959963984540054 ^ 2 / (2 * n)) / (1 + 1.959963984540054 ^ 2 / n)
    - 1.959963984540054 / (1 + 1.959963984540054 ^ 2 / n) * sqrt((k / n) * (1 - k / n) / n + 1.959963984540054 ^ 2 / (4 * n * n))) END;
CREATE OR REPLACE MACRO wilson_upper(k, n) AS CASE WHEN n > 0 THEN least(1.0,
    (k / n + 1.959963984540054 ^ 2 / (2 * n)) / (1 + 1.959963984540054 ^ 2 / n)
    + 1.959963984540054 / (1 + 1.959963984540054 ^ 2 / n) * sqrt((k / n) * (1 - k / n) / n + 1.959963984540054 ^ 2 / (4 * n * n))) END;

-- Each analysis's probe facts: (analysis_id, fact_id) -> relation, relation type, subject, object, template.
CREATE OR REPLACE VIEW analysis_facts AS
SELECT a.analysis_id, f.* FROM analyses a JOIN facts f USING (probe_set_id);

-- One row per analysis: what shapes its numbers, and what is stored for it.
CREATE OR REPLACE VIEW analysis_summary AS
SELECT a.analysis_id, a.name, a.model, p.name AS probe_set, a.probe_set_id, p.n_facts, a.tau, a.theta,
       a.ffn_renormalisation, a.dtype, a.created_at,
       count(v.revision) AS n_revisions,
       arg_min(v.revision, v.ordinal) AS first_revision, arg_max(v.revision, v.ordinal) AS final_revision,
       max(v.ingested_at) AS last_ingested_at,
       (SELECT count(*) FROM stage_runs s WHERE s.analysis_id = a.analysis_id AND s.stage = 'extractive') AS n_extractive,
       (SELECT count(DISTINCT (g.revision, g.donor_revision)) FROM grafts g WHERE g.analysis_id = a.analysis_id) AS n_grafted_pairs
FROM analyses a
LEFT JOIN probe_sets p USING (probe_set_id)
LEFT JOIN revisions v USING (analysis_id)
GROUP BY ALL
ORDER BY a.created_at, a.name;

-- Each analysis's final revision (the last by ordinal): what IoU "with the final revision" compares with.
CREATE OR REPLACE VIEW final_revisions AS
SELECT analysis_id, arg_max(revision, ordinal) AS revision, max(ordinal) AS ordinal FROM revisions GROUP BY analysis_id;
