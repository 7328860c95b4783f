-- One fact's route graph at one revision of one analysis (table routes), with the prompt's tokens; $analysis,
-- $fact, $revision.
SELECT r.layer, r.kind, r.source, r.target, r.weight, r.residual, r.heads, r.head_weights, r.root
FROM routes r
WHERE r.analysis_id = $analysis AND r.fact_id = $fact AND r.revision = $revision
ORDER BY r.layer, r.kind, r.target, r.source;
