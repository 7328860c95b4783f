-- IFR roles against causal roles (METHOD.md §4's rule on the causal circuits; no causal entity role exists with one root per fact): per revision with exhaustive effects and kind, each role set pooled over relations (members are (relation, component)): its size by IFR and by causal ground truth, shared members and IoU; role 'all': the share of (relation, component) pairs given the same role by both; lower and upper: the 95 % resampling band over facts (the role sets re-classified under each draw), n_facts the measured facts.
SELECT n.name AS analysis, a.revision, a.kind, a.role, a.n_ifr, a.n_causal, a.n_shared, a.n_members, round(a.agreement, 3) AS agreement,
       round(i.lower, 3) AS lower, round(i.upper, 3) AS upper, i.n AS n_facts
FROM effect_role_agreement a JOIN analyses n USING (analysis_id)
LEFT JOIN intervals i ON i.analysis_id = a.analysis_id AND i.measure = 'effect_role_agreement' AND i.revision = a.revision
     AND i.scope = a.kind AND i.category = a.role AND i.relation = a.relation
WHERE a.relation = '*'
ORDER BY analysis, a.ordinal, a.kind DESC, CASE a.role WHEN 'all' THEN 0 WHEN 'general' THEN 1 WHEN 'relation' THEN 2 ELSE 3 END;
