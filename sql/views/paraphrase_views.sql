-- Paraphrases: a probe set may state a fact under several templates (the same relation, subject and object on
-- several lines; `--facts paraphrases` is the reference's: the probe template, a paraphrase its corpus states,
-- and one it never states). Every per-fact row keeps its template through its fact_id; these views put a fact's
-- templates side by side. Reads analysis_facts, accuracy, circuits, prompts, template_roles, roles.

-- Each fact with its fact key (the same relation, subject and object: one key across templates), its template's
-- number within the relation (in order of first appearance in the probe file) and how many templates it has.
CREATE OR REPLACE VIEW paraphrase_facts AS
SELECT analysis_id, fact_id, relation, relation_type, subject, object, template,
       dense_rank() OVER (PARTITION BY analysis_id ORDER BY relation, subject, object) AS fact_key,
       dense_rank() OVER (PARTITION BY analysis_id, relation ORDER BY first_line) AS template_number,
       count(*) OVER (PARTITION BY analysis_id, relation, subject, object) AS n_templates
FROM (SELECT *, min(fact_id) OVER (PARTITION BY analysis_id, relation, template) AS first_line FROM analysis_facts);

-- Per revision and fact key: under how many of its templates the answer is top-1, whether under every one or
-- only some (known under one phrasing but not another), and which templates.
CREATE OR REPLACE VIEW paraphrase_accuracy AS
SELECT a.analysis_id, a.revision, v.ordinal, p.fact_key, p.relation, p.subject, p.object, count(*) AS n_templates,
       count(*) FILTER (WHERE a.top1) AS n_top1, bool_and(a.top1) AS under_every, bool_or(a.top1) AS under_some,
       list(p.template_number ORDER BY p.template_number) FILTER (WHERE a.top1) AS templates_top1
FROM accuracy a
JOIN paraphrase_facts p USING (analysis_id, fact_id)
JOIN revisions v USING (analysis_id, revision)
WHERE p.n_templates > 1
GROUP BY ALL;

-- Per revision, relation and template: its top-1 share over the relation's facts.
CREATE OR REPLACE VIEW paraphrase_template_accuracy AS
SELECT a.analysis_id, a.revision, v.ordinal, p.relation, p.template_number, any_value(p.template) AS template,
       count(*) AS n_facts, avg(a.top1::INTEGER) AS top1
FROM accuracy a
JOIN paraphrase_facts p USING (analysis_id, fact_id)
JOIN revisions v USING (analysis_id, revision)
GROUP BY ALL;

-- How stable a fact's circuit is across its templates: per revision and fact key, the mean IoU over pairs of its
-- templates of their component sets, for the union of the per-subtoken circuits (position 'circuit') and the
-- circuits rooted at corresponding positions: the last prompt token ('last token') and the last subject token
-- ('subject'). Needs store.circuits.
CREATE OR REPLACE VIEW paraphrase_circuit_iou AS
WITH roots AS (
    SELECT p.analysis_id, p.fact_id, q.answer_positions[1] - 1 AS last_root, q.subject_positions[-1] AS subject_root
    FROM paraphrase_facts p
    JOIN analyses a USING (analysis_id)
    JOIN prompts q ON q.probe_set_id = a.probe_set_id AND q.model = a.model AND q.fact_id = p.fact_id
    WHERE p.n_templates > 1
), members AS (
    SELECT DISTINCT c.analysis_id, c.revision, c.fact_id, 'circuit' AS position, c.kind, c.layer, c.head
    FROM circuits c JOIN roots r USING (analysis_id, fact_id)
    UNION
    SELECT c.analysis_id, c.revision, c.fact_id, CASE WHEN c.root = r.last_root THEN 'last token' ELSE 'subject' END,
           c.kind, c.layer, c.head
    FROM circuits c JOIN roots r USING (analysis_id, fact_id)
    WHERE c.root IN (r.last_root, r.subject_root)
), sized AS (
    SELECT analysis_id, revision, fact_id, position, count(*) AS n FROM members GROUP BY ALL
), pairs AS (
    SELECT a.analysis_id, a.fact_key, a.relation, a.fact_id AS fact_a, b.fact_id AS fact_b
    FROM paraphrase_facts a
    JOIN paraphrase_facts b ON b.analysis_id = a.analysis_id AND b.fact_key = a.fact_key AND b.fact_id > a.fact_id
), shared AS (
    SELECT p.analysis_id, m.revision, p.fact_a, p.fact_b, m.position, count(*) AS n_shared
    FROM pairs p
    JOIN members m ON m.analysis_id = p.analysis_id AND m.fact_id = p.fact_a
    JOIN members o ON o.analysis_id = p.analysis_id AND o.fact_id = p.fact_b AND o.revision = m.revision
     AND o.position = m.position AND o.kind = m.kind AND o.layer = m.layer AND o.head IS NOT DISTINCT FROM m.head
    GROUP BY ALL
)
SELECT p.analysis_id, x.revision, v.ordinal, p.fact_key, p.relation, x.position, count(*) AS n_pairs,
       avg(iou(coalesce(h.n_shared, 0), x.n, y.n)) AS mean_iou
FROM pairs p
JOIN sized x ON x.analysis_id = p.analysis_id AND x.fact_id = p.fact_a
JOIN sized y ON y.analysis_id = p.analysis_id AND y.fact_id = p.fact_b AND y.revision = x.revision AND y.position = x.position
LEFT JOIN shared h ON h.analysis_id = p.analysis_id AND h.revision = x.revision AND h.fact_a = p.fact_a AND h.fact_b = p.fact_b
     AND h.position = x.position
JOIN revisions v ON v.analysis_id = p.analysis_id AND v.revision = x.revision
GROUP BY ALL;

-- Roles per template (table template_roles: each template's facts alone, classified as the roles table's are)
-- against the pooled roles (table roles): per revision, relation and component, the role under each template and
-- whether the pooled role holds under every template.
CREATE OR REPLACE VIEW template_role_agreement AS
WITH templates AS (
    SELECT analysis_id, count(DISTINCT template_number) AS n_templates FROM template_roles GROUP BY ALL
), components AS (
    SELECT analysis_id, revision, relation, kind, layer, coalesce(head, -1) AS head FROM template_roles
    UNION
    SELECT r.analysis_id, r.revision, r.relation, r.kind, r.layer, coalesce(r.head, -1)
    FROM roles r JOIN templates USING (analysis_id) WHERE r.role <> 'deactivated'
)
SELECT c.analysis_id, c.revision, v.ordinal, c.relation, c.kind, c.layer, nullif(c.head, -1) AS head,
       coalesce(any_value(p.role), 'deactivated') AS pooled_role,
       list(coalesce(t.role, 'deactivated') ORDER BY n.template_number) AS template_roles,
       bool_and(coalesce(t.role, 'deactivated') = coalesce(p.role, 'deactivated')) AS holds_under_every
FROM components c
JOIN templates USING (analysis_id)
JOIN revisions v ON v.analysis_id = c.analysis_id AND v.revision = c.revision
CROSS JOIN LATERAL (SELECT unnest(range(1, templates.n_templates + 1)) AS template_number) n
LEFT JOIN template_roles t ON t.analysis_id = c.analysis_id AND t.revision = c.revision AND t.relation = c.relation
     AND t.kind = c.kind AND t.layer = c.layer AND coalesce(t.head, -1) = c.head AND t.template_number = n.template_number
LEFT JOIN roles p ON p.analysis_id = c.analysis_id AND p.revision = c.revision AND p.relation = c.relation
     AND p.kind = c.kind AND p.layer = c.layer AND coalesce(p.head, -1) = c.head
GROUP BY ALL;
