-- Schema version 2: one store, many analyses.
--
-- An analysis is the identity of everything that shapes the numbers: model, probe set (content hash),
-- τ, θ, FFN renormalisation and dtype. Every per-revision table carries its analysis_id; facts and
-- prompts are keyed by probe set. Run in one transaction by the writer, after version 1: on a new store
-- it reshapes empty tables; on a version-1 store it migrates the rows, giving each distinct setting of
-- the runs that wrote them (normally one per model) its analysis.
--
-- Ids and names are computed exactly as trajectory/store/analyses.py computes them:
--   probe_set_id = first 16 hex of sha256(facts as relation␟template␟subject␟object, joined by ␞, in file order)
--   analysis_id  = first 12 hex of sha256(model␟probe_set_id␟round(τ·1e9)␟round(θ·1e9)␟renormalisation␟dtype)
--   name         = <repo name>/<probe set name>/tau=<τ>/theta=<θ>[/ffn=study, llm-tt since version 8][/<dtype> unless float32]

-- Views of version 1 reference the tables reshaped below; the writer recreates the current views.
DROP VIEW IF EXISTS component_roles;
DROP VIEW IF EXISTS strongest_roles;
DROP VIEW IF EXISTS revision_axis;
DROP VIEW IF EXISTS accuracy_by_relation;
DROP VIEW IF EXISTS role_transitions;
DROP VIEW IF EXISTS role_transition_counts;
DROP VIEW IF EXISTS role_iou;
DROP VIEW IF EXISTS active_components;
DROP VIEW IF EXISTS role_counts;
DROP VIEW IF EXISTS role_grid;
DROP VIEW IF EXISTS role_members;
DROP VIEW IF EXISTS role_names;

CREATE TABLE probe_sets (
    probe_set_id  VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL UNIQUE,
    n_facts       INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE analyses (
    analysis_id          VARCHAR PRIMARY KEY,
    name                 VARCHAR NOT NULL UNIQUE,
    model                VARCHAR NOT NULL,
    probe_set_id         VARCHAR NOT NULL,
    tau                  DOUBLE NOT NULL,
    theta                DOUBLE NOT NULL,
    ffn_renormalisation  VARCHAR NOT NULL,   -- per_position | study (llm-tt since version 8; METHOD.md §3)
    dtype                VARCHAR NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    UNIQUE (model, probe_set_id, tau, theta, ffn_renormalisation, dtype)
);

-- Version 1 held one probe set (facts keyed by fact_id alone), named by the runs.
INSERT INTO probe_sets
SELECT left(sha256(string_agg(concat_ws(chr(31), relation, template, subject, object), chr(30) ORDER BY fact_id)), 16),
       coalesce((SELECT CASE WHEN arg_min(probe_set, started_at) IN ('builtin', 'facts_160') THEN 'facts_160'
                             ELSE regexp_replace(regexp_extract(arg_min(probe_set, started_at), '([^/\\]+)$', 1), '\.[^.]*$', '')
                        END FROM runs), 'facts'),
       count(*), now()
FROM facts
HAVING count(*) > 0;

-- The setting of every version-1 run; revisions written without a run row get the method's defaults.
CREATE TEMP TABLE v1_settings AS
WITH settings AS (
    SELECT v.run_id, v.model, coalesce(r.tau, 0.01) AS tau, coalesce(r.theta, 0.1) AS theta,
           coalesce(r.dtype, 'float32') AS dtype, coalesce(r.started_at, v.ingested_at) AS started_at,
           coalesce((SELECT probe_set_id FROM probe_sets), 'unknown') AS probe_set_id,
           coalesce((SELECT name FROM probe_sets), 'unknown') AS probe_set_name
    FROM (SELECT run_id, any_value(model) AS model, min(ingested_at) AS ingested_at FROM revisions GROUP BY run_id) v
    LEFT JOIN runs r USING (run_id)
)
SELECT *,
       left(sha256(concat_ws(chr(31), model, probe_set_id, round(tau * 1e9)::BIGINT::VARCHAR, round(theta * 1e9)::BIGINT::VARCHAR,
                             'per_position', dtype)), 12) AS analysis_id,
       regexp_extract(model, '([^/]+)$', 1) || '/' || probe_set_name || '/tau=' || printf('%g', tau) || '/theta=' || printf('%g', theta)
           || CASE WHEN dtype <> 'float32' THEN '/' || dtype ELSE '' END AS base_name
FROM settings;

INSERT INTO analyses
SELECT analysis_id,
       CASE WHEN count(*) OVER (PARTITION BY base_name) > 1 THEN base_name || '#' || left(analysis_id, 6) ELSE base_name END,
       model, probe_set_id, tau, theta, 'per_position', dtype, created_at
FROM (SELECT analysis_id, any_value(base_name) AS base_name, any_value(model) AS model, any_value(probe_set_id) AS probe_set_id,
             any_value(tau) AS tau, any_value(theta) AS theta, any_value(dtype) AS dtype, min(started_at) AS created_at
      FROM v1_settings GROUP BY analysis_id);

CREATE TEMP TABLE v1_revision_analysis AS
SELECT v.model, v.revision, s.analysis_id FROM revisions v JOIN v1_settings s USING (run_id);

CREATE TABLE runs_v2 (
    run_id       VARCHAR NOT NULL,
    analysis_id  VARCHAR NOT NULL,
    pipeline     VARCHAR NOT NULL,
    device       VARCHAR NOT NULL,
    versions     VARCHAR NOT NULL,           -- JSON: package versions
    started_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, analysis_id)
);
INSERT INTO runs_v2 SELECT r.run_id, s.analysis_id, r.pipeline, r.device, r.versions, r.started_at
FROM runs r JOIN v1_settings s USING (run_id);

CREATE TABLE revisions_v2 (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    ordinal       INTEGER NOT NULL,          -- training order among the model's revisions (main last)
    step          BIGINT,
    tokens        BIGINT,
    commit        VARCHAR,
    content_hash  VARCHAR,
    run_id        VARCHAR NOT NULL,
    seconds       DOUBLE,                    -- processing time of this revision (shared by a sweep's analyses)
    ingested_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (analysis_id, revision)
);
INSERT INTO revisions_v2
SELECT s.analysis_id, v.model, v.revision, v.ordinal, v.step, v.tokens, v.commit, v.content_hash, v.run_id, v.seconds, v.ingested_at
FROM revisions v JOIN v1_settings s USING (run_id);

CREATE TABLE facts_v2 (
    probe_set_id  VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,          -- position in the probe file, from 0
    relation      VARCHAR NOT NULL,
    subject       VARCHAR NOT NULL,
    object        VARCHAR NOT NULL,
    template      VARCHAR NOT NULL,
    relation_type VARCHAR NOT NULL,          -- location | name | other
    PRIMARY KEY (probe_set_id, fact_id)
);
INSERT INTO facts_v2 SELECT p.probe_set_id, f.fact_id, f.relation, f.subject, f.object, f.template, f.relation_type
FROM facts f CROSS JOIN probe_sets p;

CREATE TABLE prompts_v2 (
    probe_set_id       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    fact_id            INTEGER NOT NULL,
    n_tokens           INTEGER NOT NULL,
    subject_positions  INTEGER[] NOT NULL,
    answer_positions   INTEGER[] NOT NULL,
    PRIMARY KEY (probe_set_id, model, fact_id)
);
INSERT INTO prompts_v2 SELECT p.probe_set_id, x.model, x.fact_id, x.n_tokens, x.subject_positions, x.answer_positions
FROM prompts x CROSS JOIN probe_sets p;

CREATE TABLE accuracy_v2 (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    fact_id      INTEGER NOT NULL,
    answer_rank  INTEGER NOT NULL,
    top1         BOOLEAN NOT NULL,
    top10        BOOLEAN NOT NULL,
    PRIMARY KEY (analysis_id, revision, fact_id)
);
INSERT INTO accuracy_v2 SELECT m.analysis_id, a.model, a.revision, a.fact_id, a.answer_rank, a.top1, a.top10
FROM accuracy a JOIN v1_revision_analysis m USING (model, revision);

CREATE TABLE component_scores_v2 (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,           -- head | ffn
    layer        INTEGER NOT NULL,
    head         INTEGER,                    -- NULL for FFNs
    scope        VARCHAR NOT NULL,           -- general | entity | relation | fact
    relation     VARCHAR,                    -- for scope relation and fact
    fact_id      INTEGER,                    -- for scope fact
    score        DOUBLE NOT NULL
);
INSERT INTO component_scores_v2
SELECT m.analysis_id, c.model, c.revision, c.kind, c.layer, c.head, c.scope, c.relation, c.fact_id, c.score
FROM component_scores c JOIN v1_revision_analysis m USING (model, revision);

CREATE TABLE roles_v2 (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    relation     VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    layer        INTEGER NOT NULL,
    head         INTEGER,
    role         VARCHAR NOT NULL            -- general | entity | relation | fact | deactivated
);
INSERT INTO roles_v2 SELECT m.analysis_id, r.model, r.revision, r.relation, r.kind, r.layer, r.head, r.role
FROM roles r JOIN v1_revision_analysis m USING (model, revision);

CREATE TABLE circuits_v2 (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    fact_id      INTEGER NOT NULL,
    root         INTEGER NOT NULL,           -- token position the circuit is rooted at
    kind         VARCHAR NOT NULL,
    layer        INTEGER NOT NULL,
    head         INTEGER
);
INSERT INTO circuits_v2 SELECT m.analysis_id, c.model, c.revision, c.fact_id, c.root, c.kind, c.layer, c.head
FROM circuits c JOIN v1_revision_analysis m USING (model, revision);

DROP TABLE runs;             ALTER TABLE runs_v2 RENAME TO runs;
DROP TABLE revisions;        ALTER TABLE revisions_v2 RENAME TO revisions;
DROP TABLE facts;            ALTER TABLE facts_v2 RENAME TO facts;
DROP TABLE prompts;          ALTER TABLE prompts_v2 RENAME TO prompts;
DROP TABLE accuracy;         ALTER TABLE accuracy_v2 RENAME TO accuracy;
DROP TABLE component_scores; ALTER TABLE component_scores_v2 RENAME TO component_scores;
DROP TABLE roles;            ALTER TABLE roles_v2 RENAME TO roles;
DROP TABLE circuits;         ALTER TABLE circuits_v2 RENAME TO circuits;
DROP TABLE v1_settings;
DROP TABLE v1_revision_analysis;
