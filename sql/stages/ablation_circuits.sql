-- The ablation stage's input: each fact's circuit (the union of its per-root circuits) at one revision, per analysis.
SELECT DISTINCT analysis_id, fact_id, kind, layer, head
FROM circuits
WHERE revision = $revision AND list_contains($analyses, analysis_id)
