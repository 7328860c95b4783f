-- Schema version 1: the tables of a trajectory store. Views live in sql/views/ and are recreated by writers.
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    model         VARCHAR NOT NULL,
    pipeline      VARCHAR NOT NULL,
    probe_set     VARCHAR NOT NULL,
    tau           DOUBLE NOT NULL,
    theta         DOUBLE NOT NULL,
    dtype         VARCHAR NOT NULL,
    device        VARCHAR NOT NULL,
    versions      VARCHAR NOT NULL,          -- JSON: package versions
    started_at    TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS revisions (
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    ordinal       INTEGER NOT NULL,          -- training order among the model's revisions (main last)
    step          BIGINT,
    tokens        BIGINT,
    commit        VARCHAR,
    content_hash  VARCHAR,
    run_id        VARCHAR NOT NULL,
    seconds       DOUBLE,                    -- processing time of this revision
    ingested_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model, revision)
);

CREATE TABLE IF NOT EXISTS facts (
    fact_id       INTEGER PRIMARY KEY,
    relation      VARCHAR NOT NULL,
    subject       VARCHAR NOT NULL,
    object        VARCHAR NOT NULL,
    template      VARCHAR NOT NULL,
    relation_type VARCHAR NOT NULL           -- location | name | other
);

CREATE TABLE IF NOT EXISTS prompts (
    model              VARCHAR NOT NULL,
    fact_id            INTEGER NOT NULL,
    n_tokens           INTEGER NOT NULL,
    subject_positions  INTEGER[] NOT NULL,
    answer_positions   INTEGER[] NOT NULL,
    PRIMARY KEY (model, fact_id)
);

CREATE TABLE IF NOT EXISTS accuracy (
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    fact_id      INTEGER NOT NULL,
    answer_rank  INTEGER NOT NULL,
    top1         BOOLEAN NOT NULL,
    top10        BOOLEAN NOT NULL,
    PRIMARY KEY (model, revision, fact_id)
);

CREATE TABLE IF NOT EXISTS component_scores (
    model     VARCHAR NOT NULL,
    revision  VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,              -- head | ffn
    layer     INTEGER NOT NULL,
    head      INTEGER,                       -- NULL for FFNs
    scope     VARCHAR NOT NULL,              -- general | entity | relation | fact
    relation  VARCHAR,                       -- for scope relation and fact
    fact_id   INTEGER,                       -- for scope fact
    score     DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS roles (
    model     VARCHAR NOT NULL,
    revision  VARCHAR NOT NULL,
    relation  VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    layer     INTEGER NOT NULL,
    head      INTEGER,
    role      VARCHAR NOT NULL               -- general | entity | relation | fact | deactivated
);

CREATE TABLE IF NOT EXISTS circuits (
    model     VARCHAR NOT NULL,
    revision  VARCHAR NOT NULL,
    fact_id   INTEGER NOT NULL,
    root      INTEGER NOT NULL,              -- token position the circuit is rooted at
    kind      VARCHAR NOT NULL,
    layer     INTEGER NOT NULL,
    head      INTEGER
);
