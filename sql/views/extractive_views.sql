-- Extractive structures linked to the roles (METHOD.md §6; tables of sql/schema/003_extractive.sql).
-- Every view computes within one analysis. Scores are per relation (the mean over its facts) for the
-- pretraining measure, per hop for the finetune measure; shares pool the relations.

-- Each scored head and FFN with its role at the revision (for the relation the row belongs to: the fact's
-- relation, or the relation of the known fact an OCR implication goes through) and, for the pretraining
-- measure, its role at to_revision. A component absent from `roles` counts as deactivated.
CREATE OR REPLACE VIEW extractive_roles AS
SELECT e.analysis_id, e.model, e.revision, v.ordinal, e.to_revision, e.measure, coalesce(e.hop, '*') AS hop, e.relation,
       e.kind, e.layer, coalesce(e.head, -1) AS head, e.informative, e.upstream, e.downstream,
       coalesce(r.role, 'deactivated') AS role,
       CASE WHEN e.measure = 'pretraining' THEN coalesce(r2.role, 'deactivated') END AS next_role
FROM extractive_scores e
JOIN revisions v ON v.analysis_id = e.analysis_id AND v.revision = e.revision
LEFT JOIN roles r ON r.analysis_id = e.analysis_id AND r.revision = e.revision AND r.relation = e.relation
     AND r.kind = e.kind AND r.layer = e.layer AND coalesce(r.head, -1) = coalesce(e.head, -1)
LEFT JOIN roles r2 ON e.measure = 'pretraining' AND r2.analysis_id = e.analysis_id AND r2.revision = e.to_revision
     AND r2.relation = e.relation AND r2.kind = e.kind AND r2.layer = e.layer AND coalesce(r2.head, -1) = coalesce(e.head, -1)
WHERE e.fact_id IS NULL AND e.kind IN ('head', 'ffn');

-- One row per (component row, score name): the long form the shares and heatmaps group.
CREATE OR REPLACE VIEW extractive_long AS
SELECT analysis_id, model, revision, ordinal, to_revision, measure, hop, relation, kind, layer, head, role, next_role,
       score, value
FROM extractive_roles
UNPIVOT (value FOR score IN (informative, upstream, downstream));

-- Share of each score carried by each role and by each kind (split = 'role' | 'kind'), per revision (pair),
-- relations pooled: share = Σ|score| of the part / Σ|score| of all heads and FFNs (scores have signs; the
-- signed total is kept as `total`). Roles differ in size: mean_magnitude = Σ|score| per component.
CREATE OR REPLACE VIEW extractive_shares AS
WITH parts AS (
    SELECT analysis_id, model, revision, ordinal, measure, hop, score, 'role' AS split, role AS part, value FROM extractive_long
    UNION ALL
    SELECT analysis_id, model, revision, ordinal, measure, hop, score, 'kind', kind, value FROM extractive_long
)
SELECT analysis_id, model, revision, ordinal, measure, hop, score, split, part,
       sum(value) AS total, sum(abs(value)) AS magnitude,
       sum(abs(value)) / nullif(sum(sum(abs(value))) OVER (PARTITION BY analysis_id, revision, measure, hop, score, split), 0) AS share,
       count(*) AS n_components, sum(abs(value)) / count(*) AS mean_magnitude
FROM parts
GROUP BY analysis_id, model, revision, ordinal, measure, hop, score, split, part;

-- Pretraining measure: scores of components by their role transition from revision to to_revision
-- (the Markov transitions of the role views), relations pooled; changed = the role differs.
CREATE OR REPLACE VIEW extractive_transitions AS
SELECT analysis_id, model, revision, ordinal, to_revision, kind, role AS from_role, next_role AS to_role,
       role <> next_role AS changed, count(*) AS n_components,
       avg(abs(informative)) AS mean_abs_informative, avg(abs(upstream)) AS mean_abs_upstream,
       avg(abs(downstream)) AS mean_abs_downstream,
       sum(informative) AS informative, sum(upstream) AS upstream, sum(downstream) AS downstream
FROM extractive_roles
WHERE measure = 'pretraining'
GROUP BY ALL;

-- Per layer (its heads and its FFN together), where each score sits over training; band = early (first
-- half of the layers) or late (the paper: first-hop facts need the early layers, second-hop the late).
CREATE OR REPLACE VIEW extractive_layers AS
WITH depth AS (SELECT analysis_id, max(layer) + 1 AS n_layers FROM extractive_roles GROUP BY analysis_id)
SELECT e.analysis_id, e.model, e.revision, e.ordinal, e.measure, e.hop, e.layer,
       CASE WHEN e.layer < d.n_layers / 2 THEN 'early' ELSE 'late' END AS band,
       sum(e.informative) AS informative, sum(e.upstream) AS upstream, sum(e.downstream) AS downstream,
       sum(abs(e.informative)) AS abs_informative
FROM extractive_roles e JOIN depth d USING (analysis_id)
GROUP BY ALL;

-- The OCR curve: mean ranks per hop at each revision, after finetuning on the new facts (and before).
-- chance = (n - 1) / 2 for n candidates; below chance means the implication is answered.
CREATE OR REPLACE VIEW ocr_curve AS
SELECT o.analysis_id, o.model, o.revision, v.ordinal, o.hop, count(*) AS n_probes,
       avg(o.fact_rank) AS fact_rank, avg(o.implication_rank) AS implication_rank,
       avg(o.fact_rank_before) AS fact_rank_before, avg(o.implication_rank_before) AS implication_rank_before,
       avg((o.n_fact_candidates - 1) / 2.0) AS fact_chance, avg((o.n_candidates - 1) / 2.0) AS chance,
       stddev_samp(o.implication_rank) / sqrt(count(*)) AS implication_rank_se,
       avg(o.implication_rank_before - o.implication_rank) AS gain
FROM ocr o JOIN revisions v USING (analysis_id, revision)
GROUP BY ALL;

-- When out-of-context generalisation emerges against when the role structure does: per hop, the first
-- revision whose mean implication rank after finetuning is below chance by two standard errors (and by
-- at least one rank) and at least one rank better than before finetuning (gain: a prior over the answers,
-- e.g. a country that two cities share, can beat chance without any finetuning); and the first
-- revisions with an entity head and with a relation head (any relation).
CREATE OR REPLACE VIEW ocr_emergence AS
WITH ocr_first AS (
    SELECT analysis_id, hop, min(ordinal) AS ordinal
    FROM ocr_curve
    WHERE implication_rank < chance - greatest(1.0, 2 * coalesce(implication_rank_se, 0)) AND gain >= 1.0
    GROUP BY ALL
), role_first AS (
    SELECT r.analysis_id, min(v.ordinal) FILTER (WHERE r.role = 'entity') AS entity_ordinal,
           min(v.ordinal) FILTER (WHERE r.role = 'relation') AS relation_ordinal
    FROM roles r JOIN revisions v USING (analysis_id, revision)
    WHERE r.kind = 'head'
    GROUP BY ALL
), hops AS (SELECT DISTINCT analysis_id, model, hop FROM ocr)
SELECT h.analysis_id, h.model, h.hop,
       o_rev.revision AS ocr_revision, o.ordinal AS ocr_ordinal,
       e_rev.revision AS first_entity_head_revision, f.entity_ordinal AS first_entity_head_ordinal,
       r_rev.revision AS first_relation_head_revision, f.relation_ordinal AS first_relation_head_ordinal
FROM hops h
LEFT JOIN ocr_first o USING (analysis_id, hop)
LEFT JOIN role_first f USING (analysis_id)
LEFT JOIN revisions o_rev ON o_rev.analysis_id = h.analysis_id AND o_rev.ordinal = o.ordinal
LEFT JOIN revisions e_rev ON e_rev.analysis_id = h.analysis_id AND e_rev.ordinal = f.entity_ordinal
LEFT JOIN revisions r_rev ON r_rev.analysis_id = h.analysis_id AND r_rev.ordinal = f.relation_ordinal;
