-- Recovery of each position graft (whole layers and embeddings at FE, LT, FE+LT and the complements)
-- per consecutive revision pair, relations pooled (view graft_recovery), placed at the recipient's step.
SELECT r.revision, r.donor_revision, r.config, a.ordinal, a.x_step, a.x_tokens, a.step_known, r.n_facts, r.n_learned,
       r.learned_top1, r.top1_recovery, r.top5_recovery, r.top1, r.top1_a, r.top1_b
FROM graft_recovery r
JOIN revision_axis a USING (analysis_id, revision)
WHERE r.analysis_id = $analysis AND r.scope = 'all' AND r.consecutive AND r.component = 'all'
ORDER BY a.ordinal, r.config;
