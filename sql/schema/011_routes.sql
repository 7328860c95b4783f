-- Schema version 11: each fact's route graph (trajectory.ifr.routes), the circuit rooted at the position that
-- predicts its first answer token (root), as llm-transparency-tool draws a prompt's graph. One row per edge,
-- keyed like circuits; written by the IFR stage with store.routes (default on).
--   layer         the block the edge crosses
--   kind          'attention': I_{layer-1, source} -> A_{layer, target} (the embeddings when layer = 0), weight
--                 Σ_h c_attn plus the residual c_res when source = target (residual: that part);
--                 'ffn': A_{layer, target} -> M -> I_{layer, target} (source = target), weight c_ffn;
--                 'ffn_residual': A_{layer, target} -> I_{layer, target}, weight the FFN's residual part.
--                 Parallel blocks (GPT-NeoX) have no A node: 'block_attention' I_{layer-1, source} ->
--                 I_{layer, target} and 'block_ffn' I_{layer-1, target} -> M -> I_{layer, target}.
--   heads, head_weights  the heads with a surviving part on an attention edge and their contributions
-- Weights are the contributions thresholded and renormalised at the analysis's τ.
CREATE TABLE routes (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,
    root          SMALLINT NOT NULL,
    layer         SMALLINT NOT NULL,
    kind          VARCHAR NOT NULL,
    source        SMALLINT NOT NULL,
    target        SMALLINT NOT NULL,
    weight        REAL NOT NULL,
    residual      REAL NOT NULL,
    heads         SMALLINT[],
    head_weights  REAL[]
);

-- The prompt's tokens as text (each token decoded alone), for the route graph's labels; NULL in rows stored
-- before version 11.
ALTER TABLE prompts ADD COLUMN tokens VARCHAR[];
