-- Schema version 10: intervals per relation. relation: the relation an estimate is of ('*': relations pooled
-- or every component at its strongest role; NULL where the measure has no relation). Per relation now:
-- role_count and role_iou. Per consecutive pair (revision = the pair's first): transition. graft_recovery: scope
-- '*' and to_category 'all' pooled over the pairs (as before), per pair (revision = the recipient), and per
-- relation type (scope 'location' | 'name') and band of training (to_category 'all' | 'early' | 'middle' |
-- 'late'); n = learnings. New comparison family grafting:relation_type: per graft (subject), the share of location
-- facts' learnings it recovers minus the name facts' (bootstrap interval and p), BH over the grafts. New measures, their
-- statistic over the facts of a group (scope = 'relation' | 'relation type' | 'bucket', category = the group;
-- scope = category = '*': all facts), per revision:
--   faithfulness_median, share_top1_clean, share_top1_circuit_only, share_top1_complement,
--   mean_circuit_components (ablation stage); share_top1_last, share_top1_subject, share_top10_subject,
--   subject_first (logit lens); mean_components, mean_layer, mean_iou_final, mean_edge_iou_final (circuit shape);
--   topk_area, topk_k80 (the threshold-free curve, view topk_summary): n facts with a value
ALTER TABLE intervals ADD COLUMN relation VARCHAR;
UPDATE intervals SET relation = '*' WHERE measure IN ('role_count', 'role_iou', 'transition');
