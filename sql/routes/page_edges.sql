-- The route edges of $analysis at the revisions in $revisions (all facts), in a stable order.
SELECT r.fact_id, r.revision, r.layer, r.kind, r.source, r.target, r.weight, r.residual, r.heads, r.head_weights
FROM routes r
WHERE r.analysis_id = $analysis AND list_contains($revisions, r.revision)
ORDER BY r.fact_id, r.revision, r.layer, r.kind, r.target, r.source;
