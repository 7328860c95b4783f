-- A fact's prompt in an analysis: subject, relation, answer, and its tokens as text (NULL before schema 11).
SELECT f.fact_id, f.relation, f.relation_type, f.subject, f.object AS answer, p.tokens, p.n_tokens, p.subject_positions, p.answer_positions
FROM analyses a
JOIN facts f ON f.probe_set_id = a.probe_set_id
LEFT JOIN prompts p ON p.probe_set_id = a.probe_set_id AND p.model = a.model AND p.fact_id = f.fact_id
WHERE a.analysis_id = $analysis AND f.fact_id = $fact;
