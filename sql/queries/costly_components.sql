-- Which heads and FFNs the model needs for each relation at the final revision (component-effects stage): components whose ablation alone lowers R (estimated: by attribution patching) by at least 1 logit on the relation's measured facts on average, with how many of those facts they are in the causal circuit of, and their IFR and causal roles for the relation.
SELECT n.name AS analysis, c.revision, c.relation, c.kind, c.layer, CASE WHEN c.kind = 'head' THEN c.head END AS head,
       round(c.mean_effect, 3) AS mean_effect, c.estimated, round(c.mean_atp, 3) AS mean_atp, c.n_causal_facts, c.n_facts,
       c.ifr_role, c.causal_role
FROM component_effect_roles c JOIN analyses n USING (analysis_id)
JOIN final_revisions f ON f.analysis_id = c.analysis_id AND f.revision = c.revision
WHERE c.mean_effect <= -1
ORDER BY analysis, c.relation, c.mean_effect;
