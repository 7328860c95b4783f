-- Views over the role tables. Every view computes within one analysis (analysis_id; see the `analyses`
-- table) and every row says which. Revisions are ordered by `ordinal` (step order, main last); the final
-- revision of an analysis is its largest ordinal.

CREATE OR REPLACE VIEW role_names AS
SELECT * FROM (VALUES ('general', 0), ('entity', 1), ('relation', 2), ('fact', 3), ('deactivated', 4)) AS t(role, role_order);

-- Members of each role set, with relation '*' pooling all relations (members are (relation, component)).
CREATE OR REPLACE VIEW role_members AS
SELECT r.analysis_id, r.model, r.revision, v.ordinal, v.step, v.tokens, r.relation, r.relation AS member_relation,
       r.kind, r.layer, coalesce(r.head, -1) AS head, r.role
FROM roles r JOIN revisions v USING (analysis_id, revision)
UNION ALL
SELECT r.analysis_id, r.model, r.revision, v.ordinal, v.step, v.tokens, '*', r.relation, r.kind, r.layer, coalesce(r.head, -1), r.role
FROM roles r JOIN revisions v USING (analysis_id, revision);

-- Every (analysis, revision, relation incl. '*', kind, role) combination, so empty sets show as 0 / NULL.
CREATE OR REPLACE VIEW role_grid AS
SELECT DISTINCT m.analysis_id, m.model, m.revision, m.ordinal, m.step, m.tokens, m.relation, m.kind, n.role, n.role_order
FROM (SELECT DISTINCT analysis_id, model, revision, ordinal, step, tokens, relation, kind FROM role_members) m
CROSS JOIN role_names n;

CREATE OR REPLACE VIEW role_counts AS
SELECT g.analysis_id, g.model, g.revision, g.step, g.tokens, g.ordinal, g.relation, g.kind, g.role, count(m.layer) AS n
FROM role_grid g
LEFT JOIN role_members m
  ON m.analysis_id = g.analysis_id AND m.revision = g.revision AND m.relation = g.relation AND m.kind = g.kind AND m.role = g.role
GROUP BY ALL;

-- Components active (not deactivated) for at least one relation: the study's "active heads".
CREATE OR REPLACE VIEW active_components AS
SELECT v.analysis_id, v.model, v.revision, v.ordinal, v.step, v.tokens, k.kind,
       count(DISTINCT CASE WHEN r.role <> 'deactivated' THEN r.layer * 100000 + coalesce(r.head, -1) END) AS n_active,
       count(DISTINCT r.layer * 100000 + coalesce(r.head, -1)) AS n_components
FROM revisions v
JOIN (SELECT DISTINCT analysis_id, kind FROM roles) k ON k.analysis_id = v.analysis_id
LEFT JOIN roles r ON r.analysis_id = v.analysis_id AND r.revision = v.revision AND r.kind = k.kind
GROUP BY ALL;

-- IoU of each role set with the same set at the analysis's final revision; NULL when both are empty.
CREATE OR REPLACE VIEW role_iou AS
WITH final AS (
    SELECT analysis_id, revision FROM final_revisions
), sizes AS (
    SELECT analysis_id, model, revision, step, tokens, ordinal, relation, kind, role, n AS n_here FROM role_counts
), final_sizes AS (
    SELECT s.analysis_id, s.relation, s.kind, s.role, s.n_here AS n_final
    FROM sizes s JOIN final f ON f.analysis_id = s.analysis_id AND f.revision = s.revision
), shared AS (
    SELECT a.analysis_id, a.revision, a.relation, a.kind, a.role, count(*) AS n_shared
    FROM role_members a
    JOIN final f ON f.analysis_id = a.analysis_id
    JOIN role_members b
      ON b.analysis_id = a.analysis_id AND b.revision = f.revision AND b.relation = a.relation AND b.kind = a.kind
     AND b.role = a.role AND b.member_relation = a.member_relation AND b.layer = a.layer AND b.head = a.head
    GROUP BY ALL
)
SELECT s.analysis_id, s.model, s.revision, s.step, s.tokens, s.ordinal, s.relation, s.kind, s.role,
       s.n_here, coalesce(fs.n_final, 0) AS n_final, coalesce(sh.n_shared, 0) AS n_shared,
       iou(coalesce(sh.n_shared, 0), s.n_here, coalesce(fs.n_final, 0)) AS iou
FROM sizes s
LEFT JOIN final_sizes fs USING (analysis_id, relation, kind, role)
LEFT JOIN shared sh USING (analysis_id, revision, relation, kind, role);

-- Markov role transitions between consecutive revisions, per pair and pooled ('*'); relation '*' pools
-- all relations. The full from × to grid is listed: p is NULL (undefined, not zero) for a from-role
-- with no members.
CREATE OR REPLACE VIEW role_transition_counts AS
WITH ordered AS (
    SELECT DISTINCT analysis_id, model, revision, ordinal FROM revisions
), pairs AS (
    SELECT a.analysis_id, a.model, a.revision AS from_revision, b.revision AS to_revision, a.ordinal AS from_ordinal
    FROM ordered a JOIN ordered b ON b.analysis_id = a.analysis_id
    AND b.ordinal = (SELECT min(o.ordinal) FROM ordered o WHERE o.analysis_id = a.analysis_id AND o.ordinal > a.ordinal)
), moves AS (
    SELECT p.analysis_id, p.model, p.from_revision, p.to_revision, p.from_ordinal, x.relation, x.kind, x.role AS from_role, y.role AS to_role
    FROM pairs p
    JOIN role_members x ON x.analysis_id = p.analysis_id AND x.revision = p.from_revision
    JOIN role_members y ON y.analysis_id = p.analysis_id AND y.revision = p.to_revision AND y.relation = x.relation
     AND y.member_relation = x.member_relation AND y.kind = x.kind AND y.layer = x.layer AND y.head = x.head
)
SELECT analysis_id, model, from_revision, to_revision, from_ordinal, relation, kind, from_role, to_role, count(*) AS n
FROM moves GROUP BY ALL
UNION ALL
SELECT analysis_id, model, '*', '*', NULL, relation, kind, from_role, to_role, count(*) FROM moves GROUP BY ALL;

CREATE OR REPLACE VIEW role_transitions AS
WITH keys AS (
    SELECT DISTINCT analysis_id, model, from_revision, to_revision, from_ordinal, relation, kind FROM role_transition_counts
), grid AS (
    SELECT k.*, f.role AS from_role, f.role_order AS from_order, t.role AS to_role, t.role_order AS to_order
    FROM keys k CROSS JOIN role_names f CROSS JOIN role_names t
), counted AS (
    SELECT g.analysis_id, g.model, g.from_revision, g.to_revision, g.from_ordinal, g.relation, g.kind, g.from_role, g.to_role,
           g.from_order, g.to_order, coalesce(c.n, 0) AS n
    FROM grid g LEFT JOIN role_transition_counts c
      ON c.analysis_id = g.analysis_id AND c.from_revision = g.from_revision AND c.to_revision = g.to_revision
     AND c.relation = g.relation AND c.kind = g.kind AND c.from_role = g.from_role AND c.to_role = g.to_role
)
SELECT analysis_id, model, from_revision, to_revision, from_ordinal, relation, kind, from_role, to_role, from_order, to_order, n,
       CASE WHEN sum(n) OVER w = 0 THEN NULL ELSE n / sum(n) OVER w END AS p
FROM counted
WINDOW w AS (PARTITION BY analysis_id, from_revision, to_revision, relation, kind, from_role);

CREATE OR REPLACE VIEW accuracy_by_relation AS
SELECT a.analysis_id, a.model, a.revision, v.step, v.tokens, v.ordinal, f.relation, f.relation_type,
       count(*) AS n_facts, avg(a.top1::INTEGER) AS top1, avg(a.top10::INTEGER) AS top10
FROM accuracy a
JOIN revisions v USING (analysis_id, revision)
JOIN analysis_facts f USING (analysis_id, fact_id)
GROUP BY ALL;

-- Per-component scores in one row (for hover text): general, entity, and this relation's relation score,
-- and the mean fact score over the relation's facts. Scores are aggregated before the join to roles.
CREATE OR REPLACE VIEW component_roles AS
WITH shared AS (
    SELECT analysis_id, revision, kind, layer, coalesce(head, -1) AS head,
           max(score) FILTER (WHERE scope = 'general') AS general_score,
           max(score) FILTER (WHERE scope = 'entity') AS entity_score
    FROM component_scores WHERE scope IN ('general', 'entity')
    GROUP BY ALL
), per_relation AS (
    SELECT analysis_id, revision, kind, layer, coalesce(head, -1) AS head, relation,
           max(score) FILTER (WHERE scope = 'relation') AS relation_score,
           avg(score) FILTER (WHERE scope = 'fact') AS fact_score
    FROM component_scores WHERE scope IN ('relation', 'fact')
    GROUP BY ALL
)
SELECT r.analysis_id, r.model, r.revision, v.step, v.ordinal, r.relation, r.kind, r.layer, r.head, r.role,
       s.general_score, s.entity_score, p.relation_score, p.fact_score
FROM roles r
JOIN revisions v USING (analysis_id, revision)
LEFT JOIN shared s
  ON s.analysis_id = r.analysis_id AND s.revision = r.revision AND s.kind = r.kind AND s.layer = r.layer AND s.head = coalesce(r.head, -1)
LEFT JOIN per_relation p
  ON p.analysis_id = r.analysis_id AND p.revision = r.revision AND p.kind = r.kind AND p.layer = r.layer AND p.head = coalesce(r.head, -1)
 AND p.relation = r.relation;

-- Each component's strongest role over the relations (general > entity > relation > fact > deactivated):
-- one role per component, so counts "over all relations" add up to the number of components, and a
-- component counts as active when it is active for some relation (as active_components).
CREATE OR REPLACE VIEW strongest_roles AS
SELECT r.analysis_id, r.model, r.revision, v.ordinal, r.kind, r.layer, coalesce(r.head, -1) AS head,
       arg_min(r.role, n.role_order) AS role, min(n.role_order) AS role_order
FROM roles r JOIN role_names n USING (role) JOIN revisions v USING (analysis_id, revision)
GROUP BY ALL;

-- Where each revision sits on a step axis and a tokens axis. Steps and tokens of a later training stage
-- (OLMo-2's stage 2 counts from 0 again) are placed after the earlier stages: each stage is offset by the
-- last step (and tokens) stored of every stage before it; a stage's ingredients (alternative data mixes
-- from the same start) share that offset. A revision whose name carries no step (`main`, other unparsed
-- names; they sort last) is placed after the last numbered one at the median spacing of the numbered
-- ones, and flagged: its true step is unknown. Tokens missing from a name are estimated from the step at
-- the model's median tokens per step; NULL when no name carries tokens.
CREATE OR REPLACE VIEW revision_axis AS
WITH stage_ends AS (
    SELECT analysis_id, coalesce(stage, 0) AS stage_no, max(step) AS last_step, max(tokens) AS last_tokens
    FROM revisions WHERE step IS NOT NULL GROUP BY ALL
), offsets AS (
    SELECT analysis_id, stage_no,
           coalesce(sum(last_step) OVER earlier, 0) AS step_offset,
           coalesce(sum(last_tokens) OVER earlier, 0) AS tokens_offset
    FROM stage_ends
    WINDOW earlier AS (PARTITION BY analysis_id ORDER BY stage_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), placed AS (
    SELECT v.*, v.step + o.step_offset AS run_step, v.tokens + o.tokens_offset AS run_tokens
    FROM revisions v LEFT JOIN offsets o ON o.analysis_id = v.analysis_id AND o.stage_no = coalesce(v.stage, 0)
), numbered AS (
    SELECT analysis_id, ordinal, run_step, run_tokens,
           run_step - lag(run_step) OVER (PARTITION BY analysis_id ORDER BY ordinal) AS step_gap
    FROM placed WHERE step IS NOT NULL
), spacing AS (
    SELECT analysis_id, count(*) AS n_numbered, max(run_step) AS last_step, coalesce(median(step_gap), 1) AS step_gap,
           median(run_tokens / nullif(run_step, 0)) AS tokens_per_step
    FROM numbered GROUP BY analysis_id
)
SELECT v.analysis_id, v.model, v.revision, v.ordinal, v.step, v.tokens, v.step IS NOT NULL AS step_known,
       CASE WHEN v.step IS NOT NULL THEN v.run_step
            WHEN s.n_numbered IS NULL THEN v.ordinal
            ELSE s.last_step + s.step_gap * (v.ordinal - s.n_numbered + 1) END AS x_step,
       coalesce(v.run_tokens, round(CASE WHEN v.step IS NOT NULL THEN v.run_step
                                         ELSE s.last_step + s.step_gap * (v.ordinal - s.n_numbered + 1) END
                                    * s.tokens_per_step)) AS x_tokens
FROM placed v LEFT JOIN spacing s USING (analysis_id);

-- Do recall circuits form? Per revision: top-1 over the facts, the mean share of the heads in a fact's circuit as the
-- roles use it (fact score above θ: F_x of METHOD.md §4), the active heads (active_components), the heads that cost
-- at least 1 logit of R on their relation's facts when ablated alone (component_effects: the mean ΔR over some
-- relation's facts <= -1; NULL where that stage did not run the ablation) and the threshold-free curve's mean share
-- of components reaching 80 % faithfulness (topk_summary; NULL where not measured), each with its n.
CREATE OR REPLACE VIEW circuit_formation AS
WITH top1 AS (
    SELECT analysis_id, revision, avg(top1::INTEGER) AS top1, count(*) AS n_facts FROM accuracy GROUP BY ALL
), heads AS (
    SELECT analysis_id, revision, count(DISTINCT layer * 100000 + head) AS n_heads
    FROM component_scores WHERE kind = 'head' AND scope = 'general' GROUP BY ALL
), fact_heads AS (
    SELECT s.analysis_id, s.revision, s.fact_id, count(*) AS n
    FROM component_scores s JOIN analyses a USING (analysis_id)
    WHERE s.kind = 'head' AND s.scope = 'fact' AND s.score > a.theta GROUP BY ALL
), per_fact AS (
    SELECT c.analysis_id, c.revision, avg(coalesce(f.n, 0)) AS mean_fact_heads
    FROM accuracy c LEFT JOIN fact_heads f USING (analysis_id, revision, fact_id) GROUP BY ALL
), relation_effects AS (
    SELECT e.analysis_id, e.revision, e.layer, e.head, f.relation, avg(e.delta_reward) AS effect
    FROM component_effects e JOIN analysis_facts f USING (analysis_id, fact_id)
    WHERE e.kind = 'head' AND e.delta_reward IS NOT NULL GROUP BY ALL
), costly AS (
    SELECT analysis_id, revision, count(DISTINCT layer * 100000 + head) FILTER (WHERE effect <= -1) AS n_costly
    FROM relation_effects GROUP BY ALL
), topk AS (
    SELECT analysis_id, revision, avg(share80) AS share80, count(share80) AS n_share80 FROM topk_summary GROUP BY ALL
)
SELECT v.analysis_id, v.model, v.revision, v.ordinal, v.step, t.top1, t.n_facts, h.n_heads,
       p.mean_fact_heads / h.n_heads AS fact_head_share, a.n_active AS active_heads, c.n_costly AS costly_heads,
       k.share80 AS topk_share80, coalesce(k.n_share80, 0) AS n_topk_facts
FROM revisions v
JOIN top1 t USING (analysis_id, revision)
JOIN heads h USING (analysis_id, revision)
JOIN per_fact p USING (analysis_id, revision)
LEFT JOIN active_components a ON a.analysis_id = v.analysis_id AND a.revision = v.revision AND a.kind = 'head'
LEFT JOIN costly c ON c.analysis_id = v.analysis_id AND c.revision = v.revision
LEFT JOIN topk k ON k.analysis_id = v.analysis_id AND k.revision = v.revision;
