-- Where the answer appears over training (logit lens): per revision, the share of facts answered top-1 at
-- the last token, top-1 / top-10 at the subject at some layer, and the mean first layer of each.
SELECT n.name AS analysis, e.revision, e.relation_type, e.n_facts,
       round(e.share_top1_last, 3) AS top1_last, round(e.share_top1_subject, 3) AS top1_subject,
       round(e.share_top10_subject, 3) AS top10_subject,
       round(e.mean_first_layer_last, 2) AS first_layer_last, round(e.mean_first_layer_subject, 2) AS first_layer_subject,
       round(e.subject_first, 3) AS subject_first
FROM answer_emergence_by_revision e JOIN analyses n USING (analysis_id)
ORDER BY analysis, e.ordinal, e.relation_type;
