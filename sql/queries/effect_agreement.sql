-- How well IFR circuits agree with causal ground truth over training (component-effects stage): per revision with exhaustive effects, over all measured facts, the mean precision, recall and IoU of each fact's IFR circuit against its causal circuit (components whose ablation costs >= kappa of the fact's clean-minus-none gap) and Spearman's rho of IFR importance with the cost, each with its 95 % interval over facts and n; attribution patching's rho with the ablation and its top-10 overlap; mean circuit sizes; heads and FFNs costing >= 1 logit on a relation's facts.
WITH ci AS (
    SELECT analysis_id, revision, measure, estimate, lower, upper, n FROM intervals WHERE scope = '*' AND category = '*'
)
SELECT n.name AS analysis, a.revision, a.n_facts,
       format('{:.2f} [{:.2f}, {:.2f}]', p.estimate, p.lower, p.upper) AS precision,
       format('{:.2f} [{:.2f}, {:.2f}]', r.estimate, r.lower, r.upper) AS recall,
       format('{:.2f} [{:.2f}, {:.2f}]', i.estimate, i.lower, i.upper) AS iou,
       format('{:.2f} [{:.2f}, {:.2f}]', s.estimate, s.lower, s.upper) AS spearman, s.n AS n_spearman,
       round(a.atp_spearman, 2) AS atp_spearman, round(a.atp_top10_overlap, 2) AS atp_top10,
       round(a.mean_ifr_components, 1) AS ifr_size, round(a.mean_causal_components, 1) AS causal_size,
       a.n_costly_heads, a.n_costly_ffns
FROM effect_agreement_over_revisions a JOIN analyses n USING (analysis_id)
LEFT JOIN ci p ON p.analysis_id = a.analysis_id AND p.revision = a.revision AND p.measure = 'effect_precision'
LEFT JOIN ci r ON r.analysis_id = a.analysis_id AND r.revision = a.revision AND r.measure = 'effect_recall'
LEFT JOIN ci i ON i.analysis_id = a.analysis_id AND i.revision = a.revision AND i.measure = 'effect_iou'
LEFT JOIN ci s ON s.analysis_id = a.analysis_id AND s.revision = a.revision AND s.measure = 'effect_spearman'
WHERE a.relation = '*'
ORDER BY analysis, a.ordinal;
