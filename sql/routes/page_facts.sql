-- The routes page's facts of $analysis: relation, subject, answer, the prompt's tokens up to the route graph's
-- root (the position predicting the first answer token), in relation order.
SELECT f.fact_id, f.relation, f.relation_type, f.subject, f.object AS answer, p.answer_positions[1] - 1 AS root,
       p.tokens[1:p.answer_positions[1]] AS tokens, p.subject_positions
FROM analyses a
JOIN facts f ON f.probe_set_id = a.probe_set_id
JOIN prompts p ON p.probe_set_id = a.probe_set_id AND p.model = a.model AND p.fact_id = f.fact_id
WHERE a.analysis_id = $analysis
ORDER BY f.relation, f.fact_id;
