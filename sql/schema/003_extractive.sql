-- Schema version 3: extractive structures along the trajectory (METHOD.md §6), beside the roles.
--
-- A revision's rows of these tables are written by the extractive stage in one transaction, stage_runs
-- last (the mark of a finished stage, as `revisions` is for the IFR stage); the IFR stage never touches them.

-- Informative, upstream and downstream scores of an update W -> W'. measure = 'pretraining': W = revision,
-- W' = to_revision (the next selected revision), on the role probe facts; rows per relation (fact_id NULL:
-- the mean over the relation's facts) and, where the pipeline keeps them, per fact. measure = 'finetune':
-- W = revision, W' = revision finetuned on the OCR probe's new facts (to_revision = revision), scored on
-- its implications; rows per hop, relation = the known fact's relation the implication goes through.
-- kind: head | ffn | embedding | unembedding (the last two: informative only, so that the informative
-- scores of all rows of one prompt or group sum to grad R . delta W over every weight).
CREATE TABLE extractive_scores (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    to_revision  VARCHAR NOT NULL,
    measure      VARCHAR NOT NULL,   -- pretraining | finetune
    hop          VARCHAR,            -- first | second (finetune rows)
    relation     VARCHAR NOT NULL,
    fact_id      INTEGER,            -- NULL: mean over the relation's (or hop's) prompts
    kind         VARCHAR NOT NULL,
    layer        INTEGER,
    head         INTEGER,
    informative  DOUBLE,
    upstream     DOUBLE,
    downstream   DOUBLE
);

-- The out-of-context experiment at a revision: ranks (0-based, among the candidates' first tokens) of
-- each new fact and of its implication, after finetuning on the facts (and before, for reference).
-- Chance is (n - 1) / 2.
CREATE TABLE ocr (
    analysis_id              VARCHAR NOT NULL,
    model                    VARCHAR NOT NULL,
    revision                 VARCHAR NOT NULL,
    probe_id                 INTEGER NOT NULL,
    hop                      VARCHAR NOT NULL,
    via_relation             VARCHAR NOT NULL,
    fact_rank                INTEGER NOT NULL,
    implication_rank         INTEGER NOT NULL,
    fact_rank_before         INTEGER NOT NULL,
    implication_rank_before  INTEGER NOT NULL,
    n_fact_candidates        INTEGER NOT NULL,
    n_candidates             INTEGER NOT NULL,
    PRIMARY KEY (analysis_id, revision, probe_id)
);

-- One row per finished (analysis, revision, stage): what resume checks, with the stage's settings.
CREATE TABLE stage_runs (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    stage        VARCHAR NOT NULL,
    to_revision  VARCHAR,
    settings     VARCHAR NOT NULL,   -- JSON
    seconds      DOUBLE NOT NULL,
    finished_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (analysis_id, revision, stage)
);
