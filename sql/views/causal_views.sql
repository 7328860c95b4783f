-- Causal checks (issue #16): ablations (the ablation stage), circuit shape (the circuits table) and the
-- frequency of facts in the training data (fact_frequency). Reads tables and analysis_facts (analysis_views.sql).

-- Each fact's frequency bucket in an analysis (high | medium | low; facts without a count are absent), with
-- its count at the last revision.
CREATE OR REPLACE VIEW fact_buckets AS
SELECT a.analysis_id, q.fact_id, any_value(q.bucket) AS bucket, max(q.fact_count) AS final_fact_count
FROM analyses a JOIN fact_frequency q ON q.probe_set_id = a.probe_set_id AND q.model = a.model
GROUP BY ALL;

-- Per revision and fact: R clean, with only its circuit kept, with its circuit ablated (complement) and with
-- everything ablated; top-1 of each; the circuit's size (the complement's ablated heads and FFNs).
-- faithfulness = (R_circuit_only − R_none) / (R_clean − R_none) where R_clean − R_none >= 1 logit: below
-- that the whole model barely beats its fully ablated self and the ratio is noise (NULL there).
CREATE OR REPLACE VIEW fact_ablation AS
WITH wide AS (
    SELECT b.analysis_id, b.model, b.revision, b.fact_id,
           max(b.reward) FILTER (WHERE b.target = 'clean') AS reward_clean,
           max(b.reward) FILTER (WHERE b.target = 'circuit_only') AS reward_circuit_only,
           max(b.reward) FILTER (WHERE b.target = 'complement') AS reward_complement,
           max(b.reward) FILTER (WHERE b.target = 'none') AS reward_none,
           bool_or(b.top1) FILTER (WHERE b.target = 'clean') AS top1_clean,
           bool_or(b.top1) FILTER (WHERE b.target = 'circuit_only') AS top1_circuit_only,
           bool_or(b.top1) FILTER (WHERE b.target = 'complement') AS top1_complement,
           bool_or(b.top1) FILTER (WHERE b.target = 'none') AS top1_none,
           max(b.n_heads) FILTER (WHERE b.target = 'complement') AS circuit_heads,
           max(b.n_ffns) FILTER (WHERE b.target = 'complement') AS circuit_ffns
    FROM ablations b
    WHERE b.target IN ('clean', 'circuit_only', 'complement', 'none')
    GROUP BY ALL
)
SELECT w.analysis_id, w.model, w.revision, v.ordinal, w.fact_id, f.relation, coalesce(k.bucket, 'unknown') AS bucket,
       w.reward_clean, w.reward_circuit_only, w.reward_complement, w.reward_none,
       CASE WHEN w.reward_clean - w.reward_none >= 1.0
            THEN (w.reward_circuit_only - w.reward_none) / (w.reward_clean - w.reward_none) END AS faithfulness,
       w.top1_clean, w.top1_circuit_only, w.top1_complement, w.top1_none, w.circuit_heads, w.circuit_ffns
FROM wide w
JOIN revisions v USING (analysis_id, revision)
JOIN analysis_facts f USING (analysis_id, fact_id)
LEFT JOIN fact_buckets k ON k.analysis_id = w.analysis_id AND k.fact_id = w.fact_id;

-- Per revision, by relation (bucket '*') and by frequency bucket (relation '*'), and over all facts (both
-- '*'): how many facts, how many with a faithfulness (the denominator rule above), its median and mean,
-- the top-1 shares clean / circuit only / complement, and the circuit's mean size.
CREATE OR REPLACE VIEW faithfulness_over_revisions AS
SELECT analysis_id, model, revision, ordinal,
       CASE WHEN grouping(relation) = 1 THEN '*' ELSE relation END AS relation,
       CASE WHEN grouping(bucket) = 1 THEN '*' ELSE bucket END AS bucket,
       count(*) AS n_facts, count(faithfulness) AS n_measured,
       median(faithfulness) AS faithfulness_median, avg(faithfulness) AS faithfulness_mean,
       avg(top1_clean::INTEGER) AS share_top1_clean, avg(top1_circuit_only::INTEGER) AS share_top1_circuit_only,
       avg(top1_complement::INTEGER) AS share_top1_complement,
       avg(reward_clean) AS mean_reward_clean, avg(reward_circuit_only) AS mean_reward_circuit_only,
       avg(reward_complement) AS mean_reward_complement, avg(reward_none) AS mean_reward_none,
       avg(circuit_heads + circuit_ffns) AS mean_circuit_components
FROM fact_ablation
GROUP BY GROUPING SETS ((analysis_id, model, revision, ordinal, relation), (analysis_id, model, revision, ordinal, bucket),
                        (analysis_id, model, revision, ordinal));

-- The role × relation matrix per revision: ablating the components that hold `role` for `ablated_relation`
-- ('*' for general and entity: the same set for every relation), its effect on each measured relation's
-- facts (mean of R_ablated − R_clean; negative = R drops) against its controls (the same numbers of heads
-- and FFNs drawn at random outside the set: mean, spread and least over the draws). beats_control: the
-- role's effect is below every draw's and at least 0.5 logit below the draws' mean. size_matched: the controls
-- are as large as the set (false where fewer components lie outside it than in it, e.g. a general set
-- holding most of the model: its controls are all the rest, and beating them is no evidence).
CREATE OR REPLACE VIEW role_effects AS
WITH measured AS (
    SELECT b.analysis_id, b.model, b.revision, b.target, b.role, coalesce(b.relation, '*') AS ablated_relation, b.draw,
           f.relation AS measured_relation, b.reward - c.reward AS effect, b.top1::INTEGER - c.top1::INTEGER AS top1_change,
           b.n_heads, b.n_ffns
    FROM ablations b
    JOIN ablations c ON c.analysis_id = b.analysis_id AND c.revision = b.revision AND c.fact_id = b.fact_id AND c.target = 'clean'
    JOIN analysis_facts f ON f.analysis_id = b.analysis_id AND f.fact_id = b.fact_id
    WHERE b.target IN ('role', 'random')
), per_draw AS (
    SELECT analysis_id, model, revision, target, role, ablated_relation, measured_relation, draw,
           avg(effect) AS effect, avg(top1_change) AS top1_change, count(*) AS n_facts,
           max(n_heads) AS n_heads, max(n_ffns) AS n_ffns
    FROM measured GROUP BY ALL
), controls AS (
    SELECT analysis_id, revision, role, ablated_relation, measured_relation, avg(effect) AS control_effect,
           stddev_samp(effect) AS control_sd, min(effect) AS control_min, avg(top1_change) AS control_top1_change,
           count(*) AS n_draws, min(n_heads + n_ffns) AS control_components
    FROM per_draw WHERE target = 'random' GROUP BY ALL
)
SELECT r.analysis_id, r.model, r.revision, v.ordinal, r.role, r.ablated_relation, r.measured_relation,
       r.n_heads, r.n_ffns, r.n_facts, r.effect AS role_effect, r.top1_change AS role_top1_change,
       c.control_effect, c.control_sd, c.control_min, c.control_top1_change, coalesce(c.n_draws, 0) AS n_draws,
       coalesce(c.control_components = r.n_heads + r.n_ffns, false) AS size_matched,
       r.effect < c.control_min AND c.control_effect - r.effect >= 0.5 AS beats_control
FROM per_draw r
JOIN revisions v USING (analysis_id, revision)
LEFT JOIN controls c USING (analysis_id, revision, role, ablated_relation, measured_relation)
WHERE r.target = 'role';

-- Is a role causal at a revision? Its test (table role_tests, trajectory.stats.role_tests: the set defined on half of
-- each relation's facts, its effect on the other half of its relation's facts, all held-out facts for general and
-- entity, against random sets of as many heads and FFNs; the normal tail where the controls pass Shapiro–Wilk, else
-- the rank p) is a finding after Benjamini–Hochberg over the revision's testable sets, and (relation and fact sets)
-- it beats its control on no other relation's facts (beats_control of role_effects). untestable: why there is no
-- test (too few draws at this revision; controls that cannot differ from the set's complement). beats_own: the
-- descriptive rule of role_effects on its own relation, kept beside the test.
CREATE OR REPLACE VIEW role_causality AS
WITH per_set AS (
    SELECT analysis_id, model, revision, ordinal, role, ablated_relation AS relation, any_value(n_heads) AS n_heads,
           any_value(n_ffns) AS n_ffns,
           bool_and(size_matched) AS size_matched,
           bool_or(beats_control) FILTER (WHERE measured_relation = ablated_relation) AS beats_own,
           count(*) FILTER (WHERE beats_control) AS n_relations_beaten, count(*) AS n_relations,
           count(*) FILTER (WHERE beats_control AND measured_relation <> ablated_relation) AS n_others_beaten
    FROM role_effects
    GROUP BY analysis_id, model, revision, ordinal, role, ablated_relation
)
SELECT s.analysis_id, s.model, s.revision, s.ordinal, s.role, s.relation, s.n_heads, s.n_ffns, s.size_matched, s.beats_own,
       s.n_relations_beaten, s.n_relations, t.effect AS test_effect, t.control_mean AS test_control, t.n_facts AS n_test_facts,
       t.test, t.p, t.p_adjusted, t.n_draws, t.p_tail, t.p_rank, t.normal_p, t.calibration_p,
       CASE WHEN t.revision IS NULL THEN 'not tested at this revision (the test runs on every ablation.test_every-th revision and the last)'
            ELSE t.reason END AS untestable,
       coalesce(t.finding AND (s.relation = '*' OR s.n_others_beaten = 0), false) AS causal
FROM per_set s
LEFT JOIN role_tests t ON t.analysis_id = s.analysis_id AND t.revision = s.revision AND t.role = s.role AND t.relation = s.relation;

-- When a role first holds components (attribution: the roles table) against when it is first causal (above),
-- per role and relation ('*' for general and entity), in revisions of the analysis.
CREATE OR REPLACE VIEW role_causal_onset AS
WITH attributed AS (
    SELECT r.analysis_id, r.model, r.role, CASE WHEN r.role IN ('general', 'entity') THEN '*' ELSE r.relation END AS relation,
           min(v.ordinal) AS attributed_ordinal, arg_min(r.revision, v.ordinal) AS first_attributed
    FROM roles r JOIN revisions v USING (analysis_id, revision)
    WHERE r.role <> 'deactivated'
    GROUP BY ALL
), causal AS (
    SELECT analysis_id, role, relation, min(ordinal) AS causal_ordinal, arg_min(revision, ordinal) AS first_causal,
           count(*) AS n_causal_revisions
    FROM role_causality WHERE causal GROUP BY ALL
)
SELECT a.analysis_id, a.model, a.role, a.relation, a.first_attributed, a.attributed_ordinal, c.first_causal, c.causal_ordinal,
       c.causal_ordinal - a.attributed_ordinal AS lag_revisions, coalesce(c.n_causal_revisions, 0) AS n_causal_revisions
FROM attributed a LEFT JOIN causal c USING (analysis_id, role, relation);

-- Each fact's route graph (table routes) against the same fact's at the analysis's last revision: the IoU of
-- their edge sets, an edge being (layer, kind, source, target); NULL-free where both are empty (no row).
CREATE OR REPLACE VIEW route_iou AS
WITH edges AS (
    SELECT DISTINCT analysis_id, revision, fact_id, layer, kind, source, target FROM routes
), sizes AS (
    SELECT analysis_id, revision, fact_id, count(*) AS n_edges FROM edges GROUP BY ALL
), final AS (
    SELECT analysis_id, revision FROM final_revisions
), shared AS (
    SELECT e.analysis_id, e.revision, e.fact_id, count(*) AS n_shared
    FROM edges e
    JOIN final f ON f.analysis_id = e.analysis_id
    JOIN edges g ON g.analysis_id = e.analysis_id AND g.revision = f.revision AND g.fact_id = e.fact_id AND g.layer = e.layer
     AND g.kind = e.kind AND g.source = e.source AND g.target = e.target
    GROUP BY ALL
)
SELECT s.analysis_id, s.revision, v.ordinal, s.fact_id, s.n_edges, coalesce(q.n_edges, 0) AS n_edges_final,
       coalesce(h.n_shared, 0) AS n_shared,
       iou(coalesce(h.n_shared, 0), s.n_edges, coalesce(q.n_edges, 0)) AS edge_iou_final
FROM sizes s
JOIN revisions v USING (analysis_id, revision)
JOIN final f ON f.analysis_id = s.analysis_id
LEFT JOIN sizes q ON q.analysis_id = s.analysis_id AND q.revision = f.revision AND q.fact_id = s.fact_id
LEFT JOIN shared h ON h.analysis_id = s.analysis_id AND h.revision = s.revision AND h.fact_id = s.fact_id;

-- Circuit shape per revision and fact, from the stored per-root circuits (their union): components, heads,
-- FFNs, mean layer, and the IoU of its component set with the same fact's at the analysis's last revision;
-- with its route graph stored (table routes), the IoU of its edges too (edge_iou_final; NULL without).
CREATE OR REPLACE VIEW circuit_shape AS
WITH nodes AS (
    SELECT DISTINCT analysis_id, model, revision, fact_id, kind, layer, head FROM circuits
), per_fact AS (
    SELECT analysis_id, model, revision, fact_id, count(*) AS n_components, count(*) FILTER (WHERE kind = 'head') AS n_heads,
           count(*) FILTER (WHERE kind = 'ffn') AS n_ffns, avg(layer) AS mean_layer
    FROM nodes GROUP BY ALL
), final AS (
    SELECT analysis_id, revision FROM final_revisions
), shared AS (
    SELECT n.analysis_id, n.revision, n.fact_id, count(*) AS n_shared
    FROM nodes n
    JOIN final f ON f.analysis_id = n.analysis_id
    JOIN nodes m ON m.analysis_id = n.analysis_id AND m.revision = f.revision AND m.fact_id = n.fact_id AND m.kind = n.kind
     AND m.layer = n.layer AND m.head IS NOT DISTINCT FROM n.head
    GROUP BY ALL
)
SELECT p.analysis_id, p.model, p.revision, v.ordinal, p.fact_id, coalesce(k.bucket, 'unknown') AS bucket, p.n_components,
       p.n_heads, p.n_ffns, p.mean_layer,
       iou(coalesce(s.n_shared, 0), p.n_components, q.n_components) AS iou_final,
       r.edge_iou_final
FROM per_fact p
JOIN revisions v USING (analysis_id, revision)
JOIN final f ON f.analysis_id = p.analysis_id
LEFT JOIN per_fact q ON q.analysis_id = p.analysis_id AND q.revision = f.revision AND q.fact_id = p.fact_id
LEFT JOIN shared s ON s.analysis_id = p.analysis_id AND s.revision = p.revision AND s.fact_id = p.fact_id
LEFT JOIN fact_buckets k ON k.analysis_id = p.analysis_id AND k.fact_id = p.fact_id
LEFT JOIN route_iou r ON r.analysis_id = p.analysis_id AND r.revision = p.revision AND r.fact_id = p.fact_id;

-- Per revision and frequency bucket ('*': all facts): the circuits' mean size, mean layer, mean IoU of the
-- component sets with the last revision's, and of the route graphs' edge sets (NULL without routes).
CREATE OR REPLACE VIEW circuit_shape_by_revision AS
SELECT analysis_id, model, revision, ordinal, CASE WHEN grouping(bucket) = 1 THEN '*' ELSE bucket END AS bucket,
       count(*) AS n_facts, avg(n_components) AS mean_components, avg(n_heads) AS mean_heads, avg(n_ffns) AS mean_ffns,
       avg(mean_layer) AS mean_layer, avg(iou_final) AS mean_iou_final, avg(edge_iou_final) AS mean_edge_iou_final
FROM circuit_shape
GROUP BY GROUPING SETS ((analysis_id, model, revision, ordinal, bucket), (analysis_id, model, revision, ordinal));

-- The circuits' layer profile per revision: the share of a fact's circuit components in each layer, averaged
-- over the revision's facts (each revision's shares sum to 1 over the layers).
CREATE OR REPLACE VIEW circuit_layer_profile AS
WITH nodes AS (
    SELECT DISTINCT analysis_id, model, revision, fact_id, kind, layer, head FROM circuits
), sizes AS (
    SELECT analysis_id, revision, fact_id, count(*) AS n_components FROM nodes GROUP BY ALL
), facts_here AS (
    SELECT analysis_id, revision, count(*) AS n_facts FROM sizes GROUP BY ALL
)
SELECT n.analysis_id, n.model, n.revision, v.ordinal, n.layer, sum(1.0 / s.n_components) / any_value(t.n_facts) AS share
FROM nodes n
JOIN sizes s USING (analysis_id, revision, fact_id)
JOIN facts_here t USING (analysis_id, revision)
JOIN revisions v USING (analysis_id, revision)
GROUP BY ALL;

-- The threshold-free curve (ablation stage, target 'topk'): per revision, fact and k of the grid, the k heads
-- and FFNs of largest IFR importance at the last prompt token kept and the rest ablated (n_heads + n_ffns
-- ablated, so k = all components − those). faithfulness = (R_k − R_0) / (R_all − R_0), k = 0 being everything
-- ablated and k = all the model itself, where R_all − R_0 >= 1 logit (NULL below, as fact_ablation's).
CREATE OR REPLACE VIEW topk_curve AS
WITH sized AS (
    SELECT analysis_id, revision, max(n_heads + n_ffns) AS n_components FROM ablations WHERE target = 'topk' GROUP BY ALL
), measured AS (
    SELECT b.analysis_id, b.model, b.revision, b.fact_id, s.n_components - b.n_heads - b.n_ffns AS k, s.n_components,
           b.reward, b.top1
    FROM ablations b JOIN sized s USING (analysis_id, revision)
    WHERE b.target = 'topk'
), ends AS (
    SELECT analysis_id, revision, fact_id, max(reward) FILTER (WHERE k = n_components) AS reward_all,
           max(reward) FILTER (WHERE k = 0) AS reward_none
    FROM measured GROUP BY ALL
)
SELECT m.analysis_id, m.model, m.revision, v.ordinal, m.fact_id, f.relation, m.k, m.n_components,
       m.k / m.n_components AS share_kept, m.reward, m.top1,
       CASE WHEN e.reward_all - e.reward_none >= 1.0 THEN (m.reward - e.reward_none) / (e.reward_all - e.reward_none) END AS faithfulness
FROM measured m
JOIN ends e USING (analysis_id, revision, fact_id)
JOIN revisions v USING (analysis_id, revision)
JOIN analysis_facts f USING (analysis_id, fact_id);

-- Per revision and fact: the curve's normalised area (trapezoids over the share of components kept, 0 to 1),
-- the smallest k whose faithfulness reaches 0.8 (NULL: none on the grid, or no denominator), and where the
-- analysis's own circuit sits: its size (the union of the fact's circuits at τ) and its faithfulness
-- (fact_ablation, mean-ablated outside it).
CREATE OR REPLACE VIEW topk_summary AS
WITH stepped AS (
    SELECT *, lag(share_kept) OVER w AS previous_share, lag(faithfulness) OVER w AS previous_faithfulness
    FROM topk_curve WINDOW w AS (PARTITION BY analysis_id, revision, fact_id ORDER BY k)
), per_fact AS (
    SELECT analysis_id, model, revision, ordinal, fact_id, relation, any_value(n_components) AS n_components,
           count(*) AS n_points,
           CASE WHEN count(faithfulness) = count(*) THEN
                sum(coalesce((share_kept - previous_share) * (faithfulness + previous_faithfulness) / 2, 0)) END AS area,
           min(k) FILTER (WHERE faithfulness >= 0.8) AS k80
    FROM stepped GROUP BY ALL
)
SELECT p.*, p.k80 / p.n_components AS share80, c.circuit_heads + c.circuit_ffns AS circuit_components,
       c.faithfulness AS circuit_faithfulness, coalesce(k.bucket, 'unknown') AS bucket
FROM per_fact p
LEFT JOIN fact_ablation c ON c.analysis_id = p.analysis_id AND c.revision = p.revision AND c.fact_id = p.fact_id
LEFT JOIN fact_buckets k ON k.analysis_id = p.analysis_id AND k.fact_id = p.fact_id;
