-- The ablation stage's input: each fact's per-root circuits at one revision, per analysis (their union is the
-- fact's circuit; the roles of the defining half are re-classified from them).
SELECT analysis_id, fact_id, root, kind, layer, head
FROM circuits
WHERE revision = $revision AND list_contains($analyses, analysis_id)
