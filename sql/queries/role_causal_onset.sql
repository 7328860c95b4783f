-- When each role first holds components (attribution) against when it first becomes causal (ablation against random controls), per role and relation ('*': general and entity), in revisions; first_causal NULL: never.
SELECT n.name AS analysis, o.role, o.relation, o.first_attributed, o.first_causal, o.lag_revisions, o.n_causal_revisions
FROM role_causal_onset o JOIN analyses n USING (analysis_id)
ORDER BY analysis, o.role, o.relation;
