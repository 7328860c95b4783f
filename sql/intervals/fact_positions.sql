-- Each probe fact's relation and token positions (length, subject, answer) for the analysis's model.
SELECT f.fact_id, f.relation, p.n_tokens, p.subject_positions, p.answer_positions
FROM analysis_facts f
JOIN analyses a USING (analysis_id)
JOIN prompts p ON p.probe_set_id = a.probe_set_id AND p.model = a.model AND p.fact_id = f.fact_id
ORDER BY f.fact_id;
