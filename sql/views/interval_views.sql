-- The stored intervals of the per-group measures (trajectory.pipeline.intervals GROUP_SOURCES: the causal page's
-- lines, per revision over all facts and per relation, relation type and frequency bucket) in wide form:
-- <measure>_lower, <measure>_upper, <measure>_n per (analysis, revision, scope, category). A figure joins it on
-- scope = dimension (or '*' for all facts) and category = group.
CREATE OR REPLACE VIEW group_bands AS
PIVOT (SELECT analysis_id, revision, scope, category, measure, lower, upper, n FROM intervals WHERE scope IS NOT NULL)
ON measure IN ('faithfulness_median', 'share_top1_clean', 'share_top1_circuit_only', 'share_top1_complement',
               'mean_circuit_components', 'share_top1_last', 'share_top1_subject', 'share_top10_subject', 'subject_first',
               'mean_components', 'mean_layer', 'mean_iou_final', 'mean_edge_iou_final', 'topk_area', 'topk_k80',
               'effect_precision', 'effect_recall', 'effect_iou', 'effect_spearman', 'atp_spearman')
USING first(lower) AS lower, first(upper) AS upper, first(n) AS n
GROUP BY analysis_id, revision, scope, category;
