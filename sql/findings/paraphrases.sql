-- Under other phrasings: the analyses of the same model (and τ, θ) whose probe set states facts under several
-- templates, at their final revision: per template its top-1 with the stored interval; facts known under every
-- template or some; circuit IoU across templates; pooled roles that hold under every template. ? = the analysis.
WITH me AS (SELECT model, tau, theta FROM analyses WHERE analysis_id = ?),
other AS (
    SELECT a.analysis_id, a.name FROM analyses a JOIN me USING (model, tau, theta)
    WHERE EXISTS (SELECT 1 FROM paraphrase_facts p WHERE p.analysis_id = a.analysis_id AND p.n_templates > 1)
),
final AS (SELECT analysis_id, max(ordinal) AS ordinal FROM revisions JOIN other USING (analysis_id) GROUP BY ALL)
SELECT 'template' AS part, o.name, t.template_number::VARCHAR AS what, avg(t.top1) AS value, sum(t.n_facts) AS n,
       any_value(i.lower) AS lower, any_value(i.upper) AS upper
FROM paraphrase_template_accuracy t JOIN other o USING (analysis_id) JOIN final f USING (analysis_id, ordinal)
LEFT JOIN intervals i ON i.analysis_id = t.analysis_id AND i.measure = 'top1' AND i.revision = t.revision
     AND i.scope = 'template ' || t.template_number
GROUP BY ALL
UNION ALL
SELECT 'known', o.name, 'under every template', sum(a.under_every::INT), count(*), NULL, NULL
FROM paraphrase_accuracy a JOIN other o USING (analysis_id) JOIN final f USING (analysis_id, ordinal) GROUP BY ALL
UNION ALL
SELECT 'known', o.name, 'under some template', sum(a.under_some::INT), count(*), NULL, NULL
FROM paraphrase_accuracy a JOIN other o USING (analysis_id) JOIN final f USING (analysis_id, ordinal) GROUP BY ALL
UNION ALL
SELECT 'iou', o.name, c.position, avg(c.mean_iou), count(*), NULL, NULL
FROM paraphrase_circuit_iou c JOIN other o USING (analysis_id) JOIN final f USING (analysis_id, ordinal) GROUP BY ALL
UNION ALL
SELECT 'roles', o.name, r.kind || ' ' || r.pooled_role, sum(r.holds_under_every::INT), count(*), NULL, NULL
FROM template_role_agreement r JOIN other o USING (analysis_id) JOIN final f USING (analysis_id, ordinal)
WHERE r.pooled_role <> 'deactivated'
GROUP BY ALL
ORDER BY 1 DESC, 3;
