-- The role × relation matrix per revision (view role_effects): each role set's effect on each relation's
-- facts, its control's (mean and spread over the draws), whether the controls are size-matched, and the set's
-- test (view role_causality: held-out facts, normal-tail or rank p, BH-adjusted within the revision; causal).
SELECT e.role, e.ablated_relation, e.measured_relation, e.revision, a.ordinal, e.n_heads, e.n_ffns, e.n_facts,
       e.role_effect, e.control_effect, e.control_sd, e.n_draws, e.size_matched, e.beats_control,
       c.test, c.p, c.p_adjusted, c.n_draws AS test_draws, c.n_test_facts, c.untestable, c.causal
FROM role_effects e JOIN revision_axis a USING (analysis_id, revision)
LEFT JOIN role_causality c ON c.analysis_id = e.analysis_id AND c.revision = e.revision AND c.role = e.role
     AND c.relation = e.ablated_relation
WHERE e.analysis_id = $analysis
ORDER BY a.ordinal, e.role, e.ablated_relation, e.measured_relation;
