-- Dynamic weight grafting between revisions (METHOD.md §6; table of sql/schema/004_grafting.sql), linked
-- to the roles. Every view computes within one analysis. A pair is (revision = recipient A, donor_revision
-- = donor B); `consecutive` marks the ingest's pairs (B the next stored revision), others were chosen.

-- Each graft of each fact beside A alone and B alone, with per-fact recoveries
-- (graft − A) / (B − A) of the rank and of top-1, NULL where A and B agree.
CREATE OR REPLACE VIEW graft_outcomes AS
WITH ordered AS (
    SELECT analysis_id, revision, ordinal, lead(revision) OVER (PARTITION BY analysis_id ORDER BY ordinal) AS next_revision
    FROM revisions
)
SELECT g.analysis_id, g.model, g.revision, g.donor_revision, o.ordinal, coalesce(o.next_revision = g.donor_revision, false) AS consecutive,
       g.config, g.positions, g.layers, g.component, g.fact_id, g.relation, f.relation_type, g.learned,
       g.answer_rank, g.top1, g.top5,
       a.answer_rank AS rank_a, b.answer_rank AS rank_b, a.top1 AS top1_a, b.top1 AS top1_b, a.top5 AS top5_a, b.top5 AS top5_b,
       CASE WHEN a.answer_rank <> b.answer_rank
            THEN (g.answer_rank - a.answer_rank) / (b.answer_rank - a.answer_rank)::DOUBLE END AS rank_recovery,
       CASE WHEN a.top1 <> b.top1 THEN (g.top1::INTEGER - a.top1::INTEGER) / (b.top1::INTEGER - a.top1::INTEGER)::DOUBLE END AS top1_recovery
FROM grafts g
JOIN grafts a ON a.analysis_id = g.analysis_id AND a.revision = g.revision AND a.donor_revision = g.donor_revision
     AND a.fact_id = g.fact_id AND a.config = 'A'
JOIN grafts b ON b.analysis_id = g.analysis_id AND b.revision = g.revision AND b.donor_revision = g.donor_revision
     AND b.fact_id = g.fact_id AND b.config = 'B'
JOIN analysis_facts f ON f.analysis_id = g.analysis_id AND f.fact_id = g.fact_id
LEFT JOIN ordered o ON o.analysis_id = g.analysis_id AND o.revision = g.revision
WHERE g.config NOT IN ('A', 'B');

-- Recovery per pair and configuration, for all facts (relation '*'), per relation type (location | name |
-- other) and per relation (`scope`). recovery_m = (mean m of the graft − of A) / (of B − of A) for
-- m = top1, top5, rank, NULL where A and B have the same mean. On the facts learned between A and B
-- (wrong at A, right at B), learned_top1 is the share the graft answers right: its recovery there
-- (n_learned_top1 of n_learned; pooled shares are sums of these counts).
-- band: where the pair sits in the analysis's stored revisions (early | middle | late third).
CREATE OR REPLACE VIEW graft_recovery AS
WITH sized AS (SELECT analysis_id, max(ordinal) + 1 AS n_revisions FROM revisions GROUP BY analysis_id),
grouped AS (
    SELECT analysis_id, model, revision, donor_revision, ordinal, consecutive, config, positions, layers, component,
           CASE WHEN GROUPING(relation_type) = 1 THEN 'all' WHEN GROUPING(relation) = 1 THEN 'relation_type' ELSE 'relation' END AS scope,
           CASE WHEN GROUPING(relation_type) = 1 THEN '*' WHEN GROUPING(relation) = 1 THEN relation_type ELSE relation END AS relation,
           count(*) AS n_facts, count(*) FILTER (WHERE learned) AS n_learned,
           avg(top1::INTEGER) AS top1, avg(top1_a::INTEGER) AS top1_a, avg(top1_b::INTEGER) AS top1_b,
           avg(top5::INTEGER) AS top5, avg(top5_a::INTEGER) AS top5_a, avg(top5_b::INTEGER) AS top5_b,
           avg(answer_rank) AS rank, avg(rank_a) AS rank_a, avg(rank_b) AS rank_b,
           avg(top1::INTEGER) FILTER (WHERE learned) AS learned_top1, avg(top5::INTEGER) FILTER (WHERE learned) AS learned_top5,
           count(*) FILTER (WHERE learned AND top1) AS n_learned_top1, count(*) FILTER (WHERE learned AND top5) AS n_learned_top5
    FROM graft_outcomes
    GROUP BY GROUPING SETS ((analysis_id, model, revision, donor_revision, ordinal, consecutive, config, positions, layers, component),
                            (analysis_id, model, revision, donor_revision, ordinal, consecutive, config, positions, layers, component, relation_type),
                            (analysis_id, model, revision, donor_revision, ordinal, consecutive, config, positions, layers, component, relation_type, relation))
)
SELECT g.*,
       CASE WHEN g.ordinal IS NULL THEN NULL WHEN 3 * g.ordinal < s.n_revisions THEN 'early'
            WHEN 3 * g.ordinal < 2 * s.n_revisions THEN 'middle' ELSE 'late' END AS band,
       (g.top1 - g.top1_a) / nullif(g.top1_b - g.top1_a, 0) AS top1_recovery,
       (g.top5 - g.top5_a) / nullif(g.top5_b - g.top5_a, 0) AS top5_recovery,
       (g.rank - g.rank_a) / nullif(g.rank_b - g.rank_a, 0) AS rank_recovery
FROM grouped g LEFT JOIN sized s USING (analysis_id);

-- Which pathway carries the facts learned between consecutive revisions, and when: per band of training,
-- pooled over its pairs and relations, the share of the learned facts each position graft answers right
-- (enrichment = FE, recall = LT, both = FE+LT, and the complements).
CREATE OR REPLACE VIEW graft_pathways AS
SELECT analysis_id, model, band, config, positions, count(*) AS n_pairs, sum(n_learned)::BIGINT AS n_learned,
       sum(n_learned_top1) / nullif(sum(n_learned), 0) AS learned_top1,
       sum(n_learned_top5) / nullif(sum(n_learned), 0) AS learned_top5,
       min(ordinal) FILTER (WHERE learned_top1 >= 0.5) AS first_ordinal_half_recovered
FROM graft_recovery
WHERE scope = 'all' AND consecutive AND component = 'all'
GROUP BY analysis_id, model, band, config, positions;

-- Layer-range component grafts at LT beside the roles of the components in those layers at the donor
-- revision (per relation, and pooled: relation '*'): how many heads (attention, O) or FFNs (ffn) or both
-- (o+ffn) in the range hold each role at B, and how many of its fact and relation roles are new at B
-- (another role, or deactivated, at A). Are the layers whose grafts recover the facts the ones where
-- fact or relation heads appear?
CREATE OR REPLACE VIEW graft_layer_roles AS
WITH depth AS (SELECT analysis_id, max(layer) + 1 AS n_layers FROM roles GROUP BY analysis_id),
configs AS (
    SELECT DISTINCT analysis_id, revision, donor_revision, config, layers, component FROM grafts WHERE layers IS NOT NULL AND layers <> 'all'
),
members AS (
    SELECT c.analysis_id, c.revision, c.donor_revision, c.config, r.relation, r.kind, r.layer, r.head, r.role,
           coalesce(p.role, 'deactivated') AS role_at_a
    FROM configs c
    JOIN depth d USING (analysis_id)
    JOIN roles r ON r.analysis_id = c.analysis_id AND r.revision = c.donor_revision
         AND (r.kind = 'head' AND (c.component LIKE '%attention%' OR c.component LIKE '%o%')
              OR r.kind = 'ffn' AND c.component LIKE '%ffn%')
         AND CASE c.layers WHEN 'first_half' THEN r.layer < d.n_layers // 2
                           WHEN 'last_half' THEN r.layer >= d.n_layers // 2
                           WHEN 'last_quarter' THEN r.layer >= d.n_layers - greatest(1, d.n_layers // 4) END
    LEFT JOIN roles p ON p.analysis_id = r.analysis_id AND p.revision = c.revision AND p.relation = r.relation
         AND p.kind = r.kind AND p.layer = r.layer AND coalesce(p.head, -1) = coalesce(r.head, -1)
),
counted AS (
    SELECT analysis_id, revision, donor_revision, config, coalesce(relation, '*') AS relation,
           count(*) FILTER (WHERE role = 'fact') AS n_fact, count(*) FILTER (WHERE role = 'relation') AS n_relation,
           count(*) FILTER (WHERE role = 'entity') AS n_entity, count(*) FILTER (WHERE role = 'general') AS n_general,
           count(*) FILTER (WHERE role IN ('fact', 'relation') AND role_at_a <> role) AS n_new_fact_relation
    FROM members
    GROUP BY GROUPING SETS ((analysis_id, revision, donor_revision, config, relation), (analysis_id, revision, donor_revision, config))
)
SELECT g.analysis_id, g.model, g.revision, g.donor_revision, g.ordinal, g.band, g.consecutive, g.config, g.layers, g.component,
       g.relation, g.n_facts, g.n_learned, g.n_learned_top1, g.learned_top1, g.top1_recovery, g.rank_recovery,
       coalesce(c.n_fact, 0) AS n_fact, coalesce(c.n_relation, 0) AS n_relation, coalesce(c.n_entity, 0) AS n_entity,
       coalesce(c.n_general, 0) AS n_general, coalesce(c.n_new_fact_relation, 0) AS n_new_fact_relation
FROM graft_recovery g
LEFT JOIN counted c ON c.analysis_id = g.analysis_id AND c.revision = g.revision AND c.donor_revision = g.donor_revision
     AND c.config = g.config AND c.relation = g.relation
WHERE g.layers IS NOT NULL AND g.layers <> 'all' AND g.scope IN ('all', 'relation');
