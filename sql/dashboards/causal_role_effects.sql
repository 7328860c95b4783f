-- The role × relation matrix per revision (view role_effects): each role set's effect on each relation's
-- facts, its control's, and whether it beats the control.
SELECT e.role, e.ablated_relation, e.measured_relation, e.revision, a.ordinal, e.n_heads, e.n_ffns, e.n_facts,
       e.role_effect, e.control_effect, e.control_sd, e.beats_control
FROM role_effects e JOIN revision_axis a USING (analysis_id, revision)
WHERE e.analysis_id = $analysis
ORDER BY a.ordinal, e.role, e.ablated_relation, e.measured_relation;
