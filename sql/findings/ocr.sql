-- When out-of-context generalisation emerges, per hop, against when entity and relation heads appear.
SELECT hop, ocr_revision, ocr_ordinal, first_entity_head_revision, first_entity_head_ordinal,
       first_relation_head_revision, first_relation_head_ordinal
FROM ocr_emergence ORDER BY hop;
