-- When each role set first holds components against when it is first causal (view role_causal_onset), on the step axis.
SELECT o.role, o.relation, o.first_attributed, o.first_causal, o.n_causal_revisions,
       fa.x_step AS attributed_step, fc.x_step AS causal_step
FROM role_causal_onset o
JOIN revision_axis fa ON fa.analysis_id = o.analysis_id AND fa.revision = o.first_attributed
LEFT JOIN revision_axis fc ON fc.analysis_id = o.analysis_id AND fc.revision = o.first_causal
WHERE o.analysis_id = $analysis
ORDER BY o.role, o.relation;
