-- Training runs of the self-built reference from other seeds (`trajectory suite build --seed N`, `trajectory
-- ingest --seed N`): each is its own model, <repo>-seed<N> (seed 0 is <repo>). Analyses of them that share the
-- base model, probe set, τ, θ and FFN renormalisation are compared across seeds. Reads analyses, revisions,
-- roles, role_iou, comparisons.

-- Every analysis with its base model and seed (a model named ...-seed<N> is seed N of its base model).
CREATE OR REPLACE VIEW seed_analyses AS
SELECT a.analysis_id, a.name, a.model, regexp_replace(a.model, '-seed[0-9]+$', '') AS base_model,
       coalesce(try_cast(nullif(regexp_extract(a.model, '-seed([0-9]+)$', 1), '') AS INTEGER), 0) AS seed,
       a.probe_set_id, a.tau, a.theta, a.ffn_renormalisation,
       count(*) OVER (PARTITION BY regexp_replace(a.model, '-seed[0-9]+$', ''), a.probe_set_id, a.tau, a.theta,
                                   a.ffn_renormalisation) AS n_seeds
FROM analyses a;

-- Per seed, relation and role: the first revision where the role holds any component for the relation (its
-- emergence), as ordinal and training step; seeds checkpoint at the same steps (their revision names differ in
-- the tokens seen, which the batch order changes), so the steps compare.
CREATE OR REPLACE VIEW seed_role_emergence AS
SELECT s.base_model, s.probe_set_id, s.tau, s.theta, s.ffn_renormalisation, s.seed, s.n_seeds, r.relation, r.kind, r.role,
       min(v.ordinal) AS first_ordinal, arg_min(v.step, v.ordinal) AS first_step, arg_min(v.revision, v.ordinal) AS first_revision
FROM roles r
JOIN revisions v USING (analysis_id, revision)
JOIN seed_analyses s USING (analysis_id)
WHERE r.role <> 'deactivated'
GROUP BY ALL;

-- Across seeds, per relation and role: in how many seeds the role appears, and the mean, standard deviation,
-- least and greatest step of its emergence.
CREATE OR REPLACE VIEW seed_role_emergence_spread AS
SELECT base_model, probe_set_id, tau, theta, ffn_renormalisation, relation, kind, role, any_value(n_seeds) AS n_seeds,
       count(*) AS n_seeds_with_role, avg(first_step) AS mean_step, stddev_samp(first_step) AS sd_step,
       min(first_step) AS min_step, max(first_step) AS max_step
FROM seed_role_emergence
GROUP BY ALL;

-- Role-set IoU with each seed's own final revision (relations pooled), per checkpoint (ordinal and step; revision:
-- one seed's name for it): the mean over the seeds and its band (least and greatest seed), with how many seeds
-- have the set defined there.
CREATE OR REPLACE VIEW seed_role_iou AS
SELECT s.base_model, s.probe_set_id, s.tau, s.theta, s.ffn_renormalisation, min(i.revision) AS revision, i.ordinal, i.step, i.kind, i.role,
       any_value(s.n_seeds) AS n_seeds, count(i.iou) AS n_seeds_defined, avg(i.iou) AS mean_iou, min(i.iou) AS min_iou,
       max(i.iou) AS max_iou
FROM role_iou i
JOIN seed_analyses s USING (analysis_id)
WHERE i.relation = '*'
GROUP BY ALL;

-- Each stored test (table comparisons; the role controls left out: one per revision and set) in every seed:
-- its estimate, interval and adjusted p per seed, and whether it is a finding in every seed.
CREATE OR REPLACE VIEW seed_findings AS
SELECT s.base_model, s.probe_set_id, s.tau, s.theta, s.ffn_renormalisation, c.family, c.subject, c.a, c.b,
       any_value(s.n_seeds) AS n_seeds, count(*) AS n_seeds_tested, count(*) FILTER (WHERE c.finding) AS n_seeds_finding,
       list(s.seed ORDER BY s.seed) AS seeds, list(round(c.estimate, 4) ORDER BY s.seed) AS estimates,
       list(round(c.p_adjusted, 4) ORDER BY s.seed) AS p_adjusted,
       bool_and(c.finding) AND count(*) = any_value(s.n_seeds) AS in_every_seed
FROM comparisons c
JOIN seed_analyses s USING (analysis_id)
WHERE NOT starts_with(c.family, 'role_controls')
GROUP BY ALL;
