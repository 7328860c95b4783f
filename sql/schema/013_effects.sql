-- Schema version 13: causal ground truth (METHOD.md §9). The component-effects stage's rows of one (analysis,
-- revision), written in one transaction with its stage_runs row (stage 'effects', whose settings hold method,
-- mode and kappa). The effects do not depend on the analysis's τ or θ: every analysis of the pipeline gets the
-- same rows.
-- component_effects: one row per fact and component (kind 'head' with its head, or 'ffn' with head NULL):
--   importance    the component's IFR importance at the last prompt token (the best path weight to it, no τ:
--                 the threshold-free ranking of the top-k curves)
--   delta_reward  R with the component alone replaced (mean over the probe prompts, or zero) minus clean R;
--                 negative: the model needs it (NULL when the stage ran attribution patching only)
--   answer_rank   the answer's rank over the vocabulary with it ablated (0 = top-1; NULL likewise)
--   atp           attribution patching's first-order estimate of delta_reward (NULL when not run)
CREATE TABLE component_effects (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,
    kind          VARCHAR NOT NULL,
    layer         INTEGER NOT NULL,
    head          INTEGER,
    importance    DOUBLE NOT NULL,
    delta_reward  DOUBLE,
    answer_rank   INTEGER,
    atp           DOUBLE
);

-- effect_baselines: per fact, R and the answer's rank with nothing and with every head and FFN ablated; the
-- causal circuit's threshold is kappa · (reward_clean − reward_none).
CREATE TABLE effect_baselines (
    analysis_id        VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    revision           VARCHAR NOT NULL,
    fact_id            INTEGER NOT NULL,
    reward_clean       DOUBLE NOT NULL,
    reward_none        DOUBLE NOT NULL,
    answer_rank_clean  INTEGER NOT NULL,
    answer_rank_none   INTEGER NOT NULL
);
