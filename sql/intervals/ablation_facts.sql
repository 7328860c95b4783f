-- Each fact's ablation outcome at every revision (view fact_ablation), the columns named as the causal page's
-- measures: faithfulness (NULL below the 1-logit denominator rule), top-1 clean / circuit only / circuit
-- ablated, circuit components. The page's statistic of each: *_median a median, the rest means.
SELECT a.ordinal, a.revision, a.fact_id, a.relation, f.relation_type, a.bucket,
       a.faithfulness AS faithfulness_median, a.top1_clean::DOUBLE AS share_top1_clean,
       a.top1_circuit_only::DOUBLE AS share_top1_circuit_only, a.top1_complement::DOUBLE AS share_top1_complement,
       (a.circuit_heads + a.circuit_ffns)::DOUBLE AS mean_circuit_components
FROM fact_ablation a JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY a.ordinal, a.fact_id;
