-- Schema version 7: causal checks (issue #16) and how often the training data states each fact.
--
-- The ablation stage's rows of one (analysis, revision), written in one transaction with its stage_runs row
-- (stage 'ablation'). One row per measured (configuration, prompt): R (METHOD.md §6, at the last prompt
-- token), the answer's rank over the vocabulary (0 = top-1) and top-1, with an ablated head's z slice and
-- an ablated FFN's output replaced by its mean over the probe prompts (stage_runs.settings: mode).
-- target: clean | circuit_only | complement | none (per fact, on its own prompt: nothing ablated, all
-- outside its circuit, its circuit, everything) | role (the components holding `role` for `relation`;
-- relation NULL for general and entity, the same set for every relation) | random (the role set's control:
-- as many heads and FFNs drawn at random from those outside it, draw 0, 1, ...). n_heads, n_ffns: how
-- many were ablated. The measured fact's relation is the facts table's.
CREATE TABLE ablations (
    analysis_id  VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    revision     VARCHAR NOT NULL,
    target       VARCHAR NOT NULL,
    role         VARCHAR,
    relation     VARCHAR,
    draw         INTEGER,
    fact_id      INTEGER NOT NULL,
    n_heads      INTEGER NOT NULL,
    n_ffns       INTEGER NOT NULL,
    reward       DOUBLE NOT NULL,
    answer_rank  INTEGER NOT NULL,
    top1         BOOLEAN NOT NULL
);

-- How often the training data states each fact (fact_count: sentences stating it, in any wording) and
-- names its subject (subject_count), up to each revision (its step); revision NULL: one count for the whole
-- training data (a probe file's `frequency` column; subject_count NULL). The self-built reference knows
-- its counts exactly (it replays its own sampler). bucket: high | medium | low, by fact_count at the last
-- revision against the pipeline's [frequency] thresholds, the same for every revision of the fact.
CREATE TABLE fact_frequency (
    probe_set_id   VARCHAR NOT NULL,
    model          VARCHAR NOT NULL,
    revision       VARCHAR,
    fact_id        INTEGER NOT NULL,
    fact_count     BIGINT NOT NULL,
    subject_count  BIGINT,
    bucket         VARCHAR NOT NULL
);
