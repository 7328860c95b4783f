-- Each fact's logit-lens outcome at every revision (view answer_emergence), named as the causal page's
-- measures; subject_first is NULL where the last token never gets the answer (left out of that share).
SELECT e.ordinal, e.revision, e.fact_id, e.relation, e.relation_type, coalesce(k.bucket, 'unknown') AS bucket,
       (e.final_rank_last = 0)::DOUBLE AS share_top1_last, (e.best_rank_subject = 0)::DOUBLE AS share_top1_subject,
       (e.best_rank_subject < 10)::DOUBLE AS share_top10_subject,
       CASE WHEN e.first_layer_last IS NOT NULL
            THEN (e.first_layer_subject IS NOT NULL AND e.first_layer_subject <= e.first_layer_last)::DOUBLE END AS subject_first
FROM answer_emergence e
LEFT JOIN fact_buckets k USING (analysis_id, fact_id)
ORDER BY e.ordinal, e.fact_id;
