-- The OCR curve (view ocr_curve): mean rank of the implications' and the facts' answers among their
-- candidates after finetuning on the new facts, per hop and revision, with chance (n - 1) / 2;
-- implication_rank_lower, _upper: its stored interval (a bootstrap over the probes).
SELECT c.hop, c.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, c.n_probes,
       c.implication_rank, c.implication_rank_se, c.fact_rank, c.implication_rank_before, c.fact_rank_before,
       c.chance, c.fact_chance, i.lower AS implication_rank_lower, i.upper AS implication_rank_upper
FROM ocr_curve c
JOIN revision_axis a USING (analysis_id, revision)
LEFT JOIN intervals i ON i.analysis_id = $analysis AND i.measure = 'ocr_rank' AND i.revision = c.revision AND i.scope = c.hop
WHERE c.analysis_id = $analysis
ORDER BY c.hop, a.ordinal;
