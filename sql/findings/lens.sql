-- Where the answer appears at the final revision: the last token against the subject (logit lens).
SELECT relation_type, n_facts, share_top1_last, share_top1_subject, share_top10_subject, mean_first_layer_last
FROM answer_emergence_by_revision WHERE ordinal = (SELECT max(ordinal) FROM answer_emergence_by_revision)
ORDER BY relation_type;
