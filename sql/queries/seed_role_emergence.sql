-- When each role appears for each relation, across seeds: in how many seeds, and the mean, spread, least and greatest training step of its first revision.
SELECT base_model, tau, relation, kind, role, n_seeds, n_seeds_with_role, round(mean_step, 1) AS mean_step,
       round(sd_step, 1) AS sd_step, min_step, max_step
FROM seed_role_emergence_spread
ORDER BY base_model, tau, kind, role, relation;
