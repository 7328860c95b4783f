-- When out-of-context generalisation emerges (mean implication rank below chance) against when entity and
-- relation heads first appear, per analysis and hop (view ocr_emergence; NULL: never within the revisions).
SELECT n.name AS analysis, e.model, e.hop, e.ocr_revision, e.first_entity_head_revision, e.first_relation_head_revision,
       e.ocr_ordinal - e.first_entity_head_ordinal AS ocr_after_entity_heads_by,
       e.ocr_ordinal - e.first_relation_head_ordinal AS ocr_after_relation_heads_by
FROM ocr_emergence e JOIN analyses n USING (analysis_id)
ORDER BY analysis, e.hop;
