-- Forgetting and relearning (issue #38): facts that lose top-1 after having it, and regain it.
-- Per fact and revision: top-1 now, at the previous revision of the analysis, and at any earlier one.
CREATE OR REPLACE VIEW fact_top1_history AS
SELECT a.analysis_id, a.fact_id, a.revision, v.ordinal, a.top1,
       lag(a.top1) OVER w AS top1_before,
       coalesce(bool_or(a.top1) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS known_before
FROM accuracy a JOIN revisions v USING (analysis_id, revision)
WINDOW w AS (PARTITION BY a.analysis_id, a.fact_id ORDER BY v.ordinal);

-- Per fact: how often it lost top-1 (right at one revision, wrong at the next) and regained it (right again after
-- being right before), when it was first right, first and last lost, and whether it is right at the last revision.
CREATE OR REPLACE VIEW fact_forgetting AS
SELECT h.analysis_id, h.fact_id, f.relation, f.subject, f.object, coalesce(b.bucket, 'unknown') AS bucket,
       count(*) FILTER (WHERE h.top1_before AND NOT h.top1) AS n_lost,
       count(*) FILTER (WHERE h.top1 AND NOT h.top1_before AND h.known_before) AS n_regained,
       arg_min(h.revision, h.ordinal) FILTER (WHERE h.top1) AS first_top1,
       arg_min(h.revision, h.ordinal) FILTER (WHERE h.top1_before AND NOT h.top1) AS first_lost,
       arg_max(h.revision, h.ordinal) FILTER (WHERE h.top1_before AND NOT h.top1) AS last_lost,
       arg_max(h.top1, h.ordinal) AS top1_final
FROM fact_top1_history h
JOIN analysis_facts f USING (analysis_id, fact_id)
LEFT JOIN fact_buckets b USING (analysis_id, fact_id)
GROUP BY ALL;

-- Per revision (from the second), over all facts ('*'), each relation and each frequency bucket: the facts right at
-- the previous revision (n_right_before) and how many of them are wrong now (share_lost, Wilson interval), the
-- facts right once but wrong at the previous revision (n_forgotten_before) and how many are right again (share_regained).
CREATE OR REPLACE VIEW forgetting_over_revisions AS
WITH tagged AS (
    SELECT h.*, f.relation, coalesce(b.bucket, 'unknown') AS bucket
    FROM fact_top1_history h
    JOIN analysis_facts f USING (analysis_id, fact_id)
    LEFT JOIN fact_buckets b USING (analysis_id, fact_id)
    WHERE h.top1_before IS NOT NULL
), grouped AS (
    SELECT analysis_id, revision, ordinal, 'relation' AS dimension, '*' AS grp, * EXCLUDE (analysis_id, revision, ordinal) FROM tagged
    UNION ALL SELECT analysis_id, revision, ordinal, 'relation', relation, * EXCLUDE (analysis_id, revision, ordinal) FROM tagged
    UNION ALL SELECT analysis_id, revision, ordinal, 'bucket', '*', * EXCLUDE (analysis_id, revision, ordinal) FROM tagged
    UNION ALL SELECT analysis_id, revision, ordinal, 'bucket', bucket, * EXCLUDE (analysis_id, revision, ordinal) FROM tagged
), counted AS (
    SELECT analysis_id, revision, ordinal, dimension, grp,
           count(*) FILTER (WHERE top1_before) AS n_right_before,
           count(*) FILTER (WHERE top1_before AND NOT top1) AS n_lost,
           count(*) FILTER (WHERE known_before AND NOT top1_before) AS n_forgotten_before,
           count(*) FILTER (WHERE known_before AND NOT top1_before AND top1) AS n_regained
    FROM grouped GROUP BY ALL
)
SELECT *, CASE WHEN n_right_before > 0 THEN n_lost / n_right_before END AS share_lost,
       wilson_lower(n_lost, n_right_before) AS share_lost_lower, wilson_upper(n_lost, n_right_before) AS share_lost_upper,
       CASE WHEN n_forgotten_before > 0 THEN n_regained / n_forgotten_before END AS share_regained,
       wilson_lower(n_regained, n_forgotten_before) AS share_regained_lower,
       wilson_upper(n_regained, n_forgotten_before) AS share_regained_upper
FROM counted;
