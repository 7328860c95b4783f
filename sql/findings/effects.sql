-- Causal ground truth per revision with component effects (views effect_agreement_over_revisions and
-- effect_role_agreement): measured facts, mean circuit sizes, means of the per-fact agreement measures, heads and
-- FFNs costing >= 1 logit on some relation's facts, and the share of (relation, component) pairs whose IFR and
-- causal roles agree, for heads and for FFNs; role-set IoU per kind and role pooled over relations.
SELECT a.revision, a.ordinal, a.n_facts, a.estimated, a.mean_ifr_components, a.mean_causal_components, a.precision, a.recall,
       a.iou, a.spearman, a.atp_spearman, a.atp_top10_overlap, a.n_costly_heads, a.n_costly_ffns,
       h.agreement AS head_role_agreement, h.n_members AS head_pairs, f.agreement AS ffn_role_agreement, f.n_members AS ffn_pairs,
       (SELECT list({'kind': r.kind, 'role': r.role, 'n_ifr': r.n_ifr, 'n_causal': r.n_causal, 'n_shared': r.n_shared,
                     'iou': r.agreement} ORDER BY r.kind DESC, r.role)
        FROM effect_role_agreement r
        WHERE r.revision = a.revision AND r.relation = '*' AND r.role <> 'all') AS role_sets
FROM effect_agreement_over_revisions a
LEFT JOIN effect_role_agreement h ON h.revision = a.revision AND h.relation = '*' AND h.kind = 'head' AND h.role = 'all'
LEFT JOIN effect_role_agreement f ON f.revision = a.revision AND f.relation = '*' AND f.kind = 'ffn' AND f.role = 'all'
WHERE a.relation = '*'
ORDER BY a.ordinal;
