-- Schema version 12: roles per template, for probe sets that state facts under several templates (view
-- paraphrase_facts numbers the templates). Each template's facts alone, classified as the roles table's are
-- (trajectory.pipeline.paraphrases, from the stored circuits, at the end of an ingest); only roles other than
-- deactivated are stored, as in roles. With several templates, table intervals also holds each template's top-1
-- (measure top1, scope 'template <number>').
CREATE TABLE template_roles (
    analysis_id      VARCHAR NOT NULL,
    model            VARCHAR NOT NULL,
    revision         VARCHAR NOT NULL,
    template_number  SMALLINT NOT NULL,
    relation         VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    layer            SMALLINT NOT NULL,
    head             SMALLINT,
    role             VARCHAR NOT NULL
);
