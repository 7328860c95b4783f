-- Recovery of each position graft (whole layers and embeddings at FE, LT, FE+LT and the complements)
-- per consecutive revision pair, relations pooled (view graft_recovery), placed at the recipient's step;
-- learned_top1_lower, _upper: the stored interval of the share of learned facts recovered.
SELECT r.revision, r.donor_revision, r.config, a.ordinal, a.x_step, a.x_tokens, a.step_known, r.n_facts, r.n_learned,
       r.learned_top1, r.top1_recovery, r.top5_recovery, r.top1, r.top1_a, r.top1_b,
       i.lower AS learned_top1_lower, i.upper AS learned_top1_upper
FROM graft_recovery r
JOIN revision_axis a USING (analysis_id, revision)
LEFT JOIN intervals i ON i.analysis_id = $analysis AND i.measure = 'graft_recovery' AND i.revision = r.revision AND i.scope = '*'
     AND i.category = r.config
WHERE r.analysis_id = $analysis AND r.scope = 'all' AND r.consecutive AND r.component = 'all'
ORDER BY a.ordinal, r.config;
