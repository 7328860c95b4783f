-- Schema version 4: dynamic weight grafting between revisions (Nief et al. 2025; METHOD.md §6).
--
-- Recipient A = revision, donor B = donor_revision (the next selected revision, or a chosen pair). One row
-- per (configuration, probe fact): the rank over the vocabulary (0 = top-1) of the fact's first answer
-- token at the last prompt token. config 'A' is the recipient alone, 'B' the donor alone (its own
-- unembedding); every other config is a graft: B's weights at `positions` (FE: the subject's tokens, LT:
-- the last prompt token, their union, and complements) for `component` (all: attention, O and FFN with
-- B's embeddings at those positions; otherwise the '+'-joined components, A's embeddings) in `layers`
-- (all | first_half | last_half | last_quarter). learned: wrong at A (rank > 0), right at B (rank 0).
-- A pair's rows are written in one transaction with its stage_runs row (stage 'grafting') last.
CREATE TABLE grafts (
    analysis_id     VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,
    revision        VARCHAR NOT NULL,
    donor_revision  VARCHAR NOT NULL,
    config          VARCHAR NOT NULL,
    positions       VARCHAR,           -- NULL for the baselines A and B
    layers          VARCHAR,
    component       VARCHAR,
    fact_id         INTEGER NOT NULL,
    relation        VARCHAR NOT NULL,
    answer_rank     INTEGER NOT NULL,
    top1            BOOLEAN NOT NULL,
    top5            BOOLEAN NOT NULL,
    learned         BOOLEAN NOT NULL,
    PRIMARY KEY (analysis_id, revision, donor_revision, config, fact_id)
);

-- The hash of the sql/views/ text last applied: a writer re-creates the views only when it differs.
CREATE TABLE applied_views (
    hash  VARCHAR NOT NULL
);
