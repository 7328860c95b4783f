-- Each measured fact's IFR circuit against its causal circuit at every revision with exhaustive effects (view
-- effect_agreement), named as the causal page's measures; NULL where a measure is undefined for the fact.
SELECT a.ordinal, a.revision, a.fact_id, a.relation, a.relation_type, a.bucket, a.precision AS effect_precision,
       a.recall AS effect_recall, a.iou AS effect_iou, a.spearman AS effect_spearman, a.atp_spearman,
       a.atp_top10_overlap, a.n_causal::DOUBLE AS causal_components
FROM effect_agreement a
ORDER BY a.ordinal, a.fact_id;
