-- Which roles are causal at which revision (ablation stage): per role set (relation '*': general and entity), its effect on its own relation's facts against the random control (mean over draws), and how many relations it beats its control on; causal = beats it on its own relation only (on every relation for '*'), against controls as large as the set (size_matched).
SELECT n.name AS analysis, c.revision, c.role, c.relation, c.n_heads, c.n_ffns,
       round(e.role_effect, 3) AS own_effect, round(e.control_effect, 3) AS own_control,
       c.n_relations_beaten, c.n_relations, c.size_matched, c.causal
FROM role_causality c JOIN analyses n USING (analysis_id)
LEFT JOIN role_effects e ON e.analysis_id = c.analysis_id AND e.revision = c.revision AND e.role = c.role
     AND e.ablated_relation = c.relation AND e.measured_relation = c.relation
ORDER BY analysis, c.ordinal, c.role, c.relation;
