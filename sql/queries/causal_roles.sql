-- Which roles are causal at which revision (ablation stage): per role set (relation '*': general and entity), its effect on its own relation's facts against its random controls (mean over draws), its permutation p against the draws and the Benjamini-Hochberg adjusted p within the revision, and how many relations it beats its control on; causal = the test is a finding, the controls are as large as the set (size_matched), and a relation or fact set beats its control on no other relation.
SELECT n.name AS analysis, c.revision, c.role, c.relation, c.n_heads, c.n_ffns,
       round(e.role_effect, 3) AS own_effect, round(e.control_effect, 3) AS own_control, c.n_draws, c.p, c.p_adjusted,
       c.n_relations_beaten, c.n_relations, c.size_matched, c.causal
FROM role_causality c JOIN analyses n USING (analysis_id)
LEFT JOIN role_effects e ON e.analysis_id = c.analysis_id AND e.revision = c.revision AND e.role = c.role
     AND e.ablated_relation = c.relation AND e.measured_relation = c.relation
ORDER BY analysis, c.ordinal, c.role, c.relation;
