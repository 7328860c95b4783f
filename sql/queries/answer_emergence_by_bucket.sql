-- Where the answer appears, by how often the training data states the fact (frequency buckets): per revision, the share of facts answered top-1 at the last token, top-1 / top-10 at the subject, and the share the subject gets first.
SELECT n.name AS analysis, e.revision, e.bucket, e.n_facts, round(e.share_top1_last, 3) AS top1_last,
       round(e.share_top1_subject, 3) AS top1_subject, round(e.share_top10_subject, 3) AS top10_subject,
       round(e.subject_first, 3) AS subject_first
FROM answer_emergence_by_bucket e JOIN analyses n USING (analysis_id)
ORDER BY analysis, e.ordinal, e.bucket;
