-- Which roles are causal at which revision (ablation stage): per role set (relation '*': general and entity), defined on half of each relation's facts, its effect on the other half of its relation's facts against random sets of as many heads and FFNs (test_effect, test_control: the mean over n_draws), the test used (normal tail, or the rank p where the controls are not normal), p and the Benjamini-Hochberg adjusted p within the revision, why a set is untestable, and how many relations it beats its control on; causal = the test is a finding and a relation or fact set beats its control on no other relation.
SELECT n.name AS analysis, c.revision, c.role, c.relation, c.n_heads, c.n_ffns, c.n_test_facts,
       round(c.test_effect, 3) AS test_effect, round(c.test_control, 3) AS test_control, c.n_draws, c.test, c.p, c.p_adjusted,
       c.n_relations_beaten, c.n_relations, c.untestable, c.causal
FROM role_causality c JOIN analyses n USING (analysis_id)
ORDER BY analysis, c.ordinal, c.role, c.relation;
