-- Schema version 6: where the answer appears (logit lens), written by the IFR stage with its revision.
-- Per fact and layer l: the residual stream after layer l read through the model's final norm and
-- unembedding; the rank (0 = top-1) of the fact's first answer token at the last prompt token, and the best
-- rank over the subject's tokens. It depends on no analysis setting; every analysis of a revision gets the
-- same rows. Revisions stored before version 6 have none (`trajectory ingest --force` adds them).
CREATE TABLE logit_lens (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,
    layer         INTEGER NOT NULL,
    rank_last     INTEGER NOT NULL,
    rank_subject  INTEGER NOT NULL,
    PRIMARY KEY (analysis_id, revision, fact_id, layer)
);
