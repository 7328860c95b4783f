-- Schema version 16: what each node of a fact's route graph says under the logit lens (issue #38, item 5: the
-- routes page shows it when a node or edge is clicked, as llm-transparency-tool does). Written by the IFR stage
-- beside the routes (store.routes), for the nodes and blocks the stored route edges touch (trajectory.lens.nodes).
--   node      'X' the embedding (layer -1), 'A' the residual stream after layer's attention (sequential blocks),
--             'I' after the layer; 'attn' and 'ffn' what that layer's attention or FFN writes at the position
--   tokens, probs  the top tokens (each decoded alone) of the state read through the final norm and unembedding,
--             and their probabilities, best first
CREATE TABLE node_lens (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,
    node          VARCHAR NOT NULL,
    layer         SMALLINT NOT NULL,
    position      SMALLINT NOT NULL,
    tokens        VARCHAR[],
    probs         REAL[]
);

-- Where each head looks from the token that predicts a fact's first answer token (the route graph's root):
-- its attention weights over positions 0..root, per revision, fact, layer and head (trajectory.lens.attention;
-- with store.routes). The component page draws a head's on the facts it serves most.
CREATE TABLE root_attention (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    revision      VARCHAR NOT NULL,
    fact_id       INTEGER NOT NULL,
    layer         SMALLINT NOT NULL,
    head          SMALLINT NOT NULL,
    weights       REAL[]
);
