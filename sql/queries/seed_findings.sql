-- Do the findings hold in every seed? Per base model (the reference trained from several seeds: trajectory ingest --seed N) and stored test: the estimate and adjusted p in each seed, in how many seeds it is a finding, and whether it is one in every seed.
SELECT base_model, tau, family, subject, a, b, n_seeds, seeds, estimates, p_adjusted, n_seeds_finding, in_every_seed
FROM seed_findings
ORDER BY base_model, tau, family, subject, a, b;
