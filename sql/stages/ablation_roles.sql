-- The ablation stage's input: every component's role per relation at one revision, per analysis.
SELECT analysis_id, relation, kind, layer, head, role
FROM roles
WHERE revision = $revision AND list_contains($analyses, analysis_id)
