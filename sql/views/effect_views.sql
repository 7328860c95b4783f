-- Causal ground truth (METHOD.md §9): single-component effects (tables component_effects, effect_baselines, the
-- component-effects stage) against the IFR circuits and roles. Reads analysis_facts (analysis_views.sql) and
-- fact_buckets (causal_views.sql).

-- The stage's settings per revision: kappa (the causal circuit's share of the gap), method and mode.
CREATE OR REPLACE VIEW effect_settings AS
SELECT analysis_id, model, revision, json_extract_string(settings, '$.kappa')::DOUBLE AS kappa,
       json_extract_string(settings, '$.method') AS method, json_extract_string(settings, '$.mode') AS mode
FROM stage_runs WHERE stage = 'effects';

-- Per revision, fact and component: its IFR importance, its single-component effect (delta_reward < 0: the
-- model needs it) and attribution patching's estimate; effect = delta_reward where the components were ablated,
-- else the estimate (estimated = true: a stage run with method 'atp', as for a 7B model); the fact's gap
-- R_clean − R_none; measured = the gap is at least 1 logit (below it the whole model barely beats its fully
-- ablated self: no causal circuit, as the ablation stage's faithfulness); causal = measured and
-- −effect >= kappa · gap (NULL unmeasured); in_ifr = the component is in the fact's IFR circuit rooted at the position predicting its first
-- answer token (the circuits table, where R is read).
CREATE OR REPLACE VIEW fact_effects AS
WITH roots AS (
    SELECT a.analysis_id, p.fact_id, p.answer_positions[1] - 1 AS root
    FROM analyses a JOIN prompts p ON p.probe_set_id = a.probe_set_id AND p.model = a.model
), ifr AS (
    SELECT DISTINCT c.analysis_id, c.revision, c.fact_id, c.kind, c.layer, coalesce(c.head, -1) AS head
    FROM circuits c JOIN roots r ON r.analysis_id = c.analysis_id AND r.fact_id = c.fact_id AND r.root = c.root
)
SELECT e.analysis_id, e.model, e.revision, v.ordinal, v.step, e.fact_id, f.relation, f.relation_type,
       coalesce(k.bucket, 'unknown') AS bucket, e.kind, e.layer, coalesce(e.head, -1) AS head, e.importance,
       e.delta_reward, e.answer_rank, e.atp, coalesce(e.delta_reward, e.atp) AS effect, e.delta_reward IS NULL AS estimated,
       b.reward_clean, b.reward_none, b.reward_clean - b.reward_none AS gap,
       s.kappa, b.reward_clean - b.reward_none >= 1.0 AS measured,
       CASE WHEN b.reward_clean - b.reward_none >= 1.0 THEN -coalesce(e.delta_reward, e.atp) >= s.kappa * (b.reward_clean - b.reward_none) END AS causal,
       i.fact_id IS NOT NULL AS in_ifr
FROM component_effects e
JOIN effect_baselines b USING (analysis_id, revision, fact_id)
JOIN effect_settings s USING (analysis_id, revision)
JOIN revisions v USING (analysis_id, revision)
JOIN analysis_facts f USING (analysis_id, fact_id)
LEFT JOIN fact_buckets k ON k.analysis_id = e.analysis_id AND k.fact_id = e.fact_id
LEFT JOIN ifr i ON i.analysis_id = e.analysis_id AND i.revision = e.revision AND i.fact_id = e.fact_id AND i.kind = e.kind
     AND i.layer = e.layer AND i.head = coalesce(e.head, -1);

-- Per revision and fact (measured facts; estimated: the causal circuit comes from attribution patching): the
-- IFR circuit against the causal circuit (sizes, precision = shared / IFR, recall = shared / causal, IoU; NULL where undefined: an empty IFR
-- circuit has no precision, an empty causal circuit no recall, both empty no IoU); Spearman's rho over
-- components of IFR importance with −effect (average ranks for ties; NULL when either is constant); and,
-- where both methods ran, attribution patching's rho with delta_reward and the overlap of the ten components it and
-- the ablation find most costly (ties broken by component order).
CREATE OR REPLACE VIEW effect_agreement AS
WITH ranked AS (
    SELECT *,
           rank() OVER (PARTITION BY analysis_id, revision, fact_id ORDER BY importance)
             + (count(*) OVER (PARTITION BY analysis_id, revision, fact_id, importance) - 1) / 2 AS rank_importance,
           rank() OVER (PARTITION BY analysis_id, revision, fact_id ORDER BY -effect)
             + (count(*) OVER (PARTITION BY analysis_id, revision, fact_id, effect) - 1) / 2 AS rank_cost,
           rank() OVER (PARTITION BY analysis_id, revision, fact_id ORDER BY -atp)
             + (count(*) OVER (PARTITION BY analysis_id, revision, fact_id, atp) - 1) / 2 AS rank_atp_cost,
           row_number() OVER (PARTITION BY analysis_id, revision, fact_id ORDER BY effect, kind DESC, layer, head) AS top_cost,
           row_number() OVER (PARTITION BY analysis_id, revision, fact_id ORDER BY atp, kind DESC, layer, head) AS top_atp
    FROM fact_effects
    WHERE measured AND effect IS NOT NULL
), per_fact AS (
    SELECT analysis_id, model, revision, ordinal, step, fact_id, relation, relation_type, bucket, any_value(gap) AS gap,
           bool_or(estimated) AS estimated,
           count(*) AS n_components,
           count(*) FILTER (WHERE in_ifr) AS n_ifr, count(*) FILTER (WHERE causal) AS n_causal,
           count(*) FILTER (WHERE in_ifr AND causal) AS n_shared,
           CASE WHEN stddev_pop(rank_importance) > 0 AND stddev_pop(rank_cost) > 0 THEN corr(rank_importance, rank_cost) END AS spearman,
           CASE WHEN NOT bool_or(estimated) AND stddev_pop(rank_atp_cost) > 0 AND stddev_pop(rank_cost) > 0
                THEN corr(rank_atp_cost, rank_cost) END AS atp_spearman,
           CASE WHEN NOT bool_or(estimated) AND count(atp) = count(*) THEN count(*) FILTER (WHERE top_cost <= 10 AND top_atp <= 10)
                / least(10, count(*)) END AS atp_top10_overlap
    FROM ranked GROUP BY ALL
)
SELECT *, CASE WHEN n_ifr > 0 THEN n_shared / n_ifr END AS precision,
       CASE WHEN n_causal > 0 THEN n_shared / n_causal END AS recall,
       iou(n_shared, n_ifr, n_causal) AS iou
FROM per_fact;

-- Causal roles: METHOD.md §4's rule applied to the causal circuits, over the measured facts. A causal circuit
-- has one root (the token R is read at), so its general score is the share of all facts whose causal circuit
-- holds the component, its relation score the share of the relation's facts, its fact set the components of
-- any of the relation's facts' causal circuits; with one root an entity score would equal the general one, so
-- no component is a causal entity. Per relation: general if > theta over all facts, else relation if > theta
-- over the relation's, else fact if in one of its facts' causal circuits, else deactivated. Rows for every
-- component and relation with at least one measured fact.
CREATE OR REPLACE VIEW effect_roles AS
WITH measured AS (
    SELECT * FROM fact_effects WHERE measured AND effect IS NOT NULL
), general AS (
    SELECT analysis_id, revision, kind, layer, head, avg(causal::INTEGER) AS general_score
    FROM measured GROUP BY ALL
), per_relation AS (
    SELECT analysis_id, model, revision, ordinal, relation, kind, layer, head, count(*) AS n_facts,
           avg(causal::INTEGER) AS relation_score, bool_or(causal) AS in_fact_set
    FROM measured GROUP BY ALL
)
SELECT r.analysis_id, r.model, r.revision, r.ordinal, r.relation, r.kind, r.layer, r.head, r.n_facts, g.general_score,
       r.relation_score,
       CASE WHEN g.general_score > a.theta THEN 'general' WHEN r.relation_score > a.theta THEN 'relation'
            WHEN r.in_fact_set THEN 'fact' ELSE 'deactivated' END AS role
FROM per_relation r
JOIN general g USING (analysis_id, revision, kind, layer, head)
JOIN analyses a USING (analysis_id);

-- Per revision, relation and component: the IFR role (roles table; deactivated when it has no row) beside the
-- causal role, and the component's mean effect (ablated, else estimated) over the relation's measured facts (the heatmap of the causal
-- page), with how many facts its ablation costs at least kappa of their gap.
CREATE OR REPLACE VIEW component_effect_roles AS
WITH effects AS (
    SELECT analysis_id, revision, relation, kind, layer, head, avg(effect) AS mean_effect, avg(delta_reward) AS mean_delta_reward,
           avg(atp) AS mean_atp, bool_or(estimated) AS estimated, avg(importance) AS mean_importance, count(*) FILTER (WHERE causal) AS n_causal_facts
    FROM fact_effects WHERE measured GROUP BY ALL
)
SELECT c.analysis_id, c.model, c.revision, c.ordinal, c.relation, c.kind, c.layer, c.head, c.n_facts,
       coalesce(i.role, 'deactivated') AS ifr_role, c.role AS causal_role, e.mean_effect, e.estimated, e.mean_delta_reward, e.mean_atp,
       e.mean_importance, e.n_causal_facts
FROM effect_roles c
JOIN effects e USING (analysis_id, revision, relation, kind, layer, head)
LEFT JOIN roles i ON i.analysis_id = c.analysis_id AND i.revision = c.revision AND i.relation = c.relation AND i.kind = c.kind
     AND i.layer = c.layer AND coalesce(i.head, -1) = c.head;

-- Per revision, kind, relation ('*': members pooled over relations, as role_iou's) and role (entity left out:
-- no causal entity role exists): the IFR role set against the causal role set, members (relation, component):
-- sizes, shared, IoU (NULL when both are empty); and per revision and kind ('all' role) the share of
-- (relation, component) pairs whose two roles are the same, entity counted as a disagreement.
CREATE OR REPLACE VIEW effect_role_agreement AS
WITH pairs AS (
    SELECT analysis_id, model, revision, ordinal, relation, kind, ifr_role, causal_role FROM component_effect_roles
), per_role AS (
    SELECT p.analysis_id, p.model, p.revision, p.ordinal, r.relation, p.kind, n.role,
           count(*) FILTER (WHERE p.ifr_role = n.role) AS n_ifr, count(*) FILTER (WHERE p.causal_role = n.role) AS n_causal,
           count(*) FILTER (WHERE p.ifr_role = n.role AND p.causal_role = n.role) AS n_shared, count(*) AS n_members
    FROM pairs p
    CROSS JOIN (VALUES ('general'), ('relation'), ('fact')) n(role)
    CROSS JOIN LATERAL (SELECT unnest([p.relation, '*']) AS relation) r
    GROUP BY ALL
), same AS (
    SELECT analysis_id, model, revision, ordinal, '*' AS relation, kind, 'all' AS role, NULL::BIGINT AS n_ifr,
           NULL::BIGINT AS n_causal, count(*) FILTER (WHERE ifr_role = causal_role) AS n_shared, count(*) AS n_members,
           avg((ifr_role = causal_role)::INTEGER) AS agreement
    FROM pairs GROUP BY ALL
)
SELECT analysis_id, model, revision, ordinal, relation, kind, role, n_ifr, n_causal, n_shared, n_members,
       iou(n_shared, n_ifr, n_causal) AS agreement
FROM per_role
UNION ALL
SELECT * FROM same;

-- Per revision, over all facts (relation '*') and per relation: how many measured facts, the mean precision,
-- recall, IoU and Spearman rho of effect_agreement (their intervals: table intervals, measures effect_*), the
-- mean circuit sizes, and how many heads and FFNs cost at least 1 logit of R on their relation's facts on average.
CREATE OR REPLACE VIEW effect_agreement_over_revisions AS
WITH costly AS (
    SELECT analysis_id, revision, relation, count(*) FILTER (WHERE kind = 'head' AND mean_effect <= -1) AS n_costly_heads,
           count(*) FILTER (WHERE kind = 'ffn' AND mean_effect <= -1) AS n_costly_ffns
    FROM component_effect_roles GROUP BY ALL
), pooled_costly AS (  -- a head counted once when it costs >= 1 logit on any relation's facts
    SELECT analysis_id, revision, '*' AS relation,
           count(DISTINCT (layer, head)) FILTER (WHERE kind = 'head' AND mean_effect <= -1) AS n_costly_heads,
           count(DISTINCT layer) FILTER (WHERE kind = 'ffn' AND mean_effect <= -1) AS n_costly_ffns
    FROM component_effect_roles GROUP BY ALL
), agreement AS (
    SELECT analysis_id, model, revision, ordinal, step, CASE WHEN grouping(relation) = 1 THEN '*' ELSE relation END AS relation,
           count(*) AS n_facts, bool_or(estimated) AS estimated, avg(precision) AS precision, avg(recall) AS recall, avg(iou) AS iou, avg(spearman) AS spearman,
           avg(atp_spearman) AS atp_spearman, avg(atp_top10_overlap) AS atp_top10_overlap, avg(n_ifr) AS mean_ifr_components,
           avg(n_causal) AS mean_causal_components
    FROM effect_agreement
    GROUP BY GROUPING SETS ((analysis_id, model, revision, ordinal, step, relation), (analysis_id, model, revision, ordinal, step))
)
SELECT a.*, coalesce(c.n_costly_heads, p.n_costly_heads) AS n_costly_heads, coalesce(c.n_costly_ffns, p.n_costly_ffns) AS n_costly_ffns
FROM agreement a
LEFT JOIN costly c ON c.analysis_id = a.analysis_id AND c.revision = a.revision AND c.relation = a.relation
LEFT JOIN pooled_costly p ON p.analysis_id = a.analysis_id AND p.revision = a.revision AND p.relation = a.relation;
