-- The tests of the analysis's settings across the seeds of its base model (view seed_findings); ? = the analysis.
SELECT f.family, f.subject, f.a, f.b, f.n_seeds, f.estimates, f.n_seeds_finding, f.in_every_seed
FROM seed_findings f
JOIN seed_analyses s ON s.base_model = f.base_model AND s.probe_set_id = f.probe_set_id AND s.tau = f.tau AND s.theta = f.theta
     AND s.ffn_renormalisation = f.ffn_renormalisation
WHERE s.analysis_id = ?
ORDER BY f.family, f.subject, f.a;
