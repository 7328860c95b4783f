-- What each node of the route graphs of $analysis says under the logit lens (table node_lens) at the revisions in
-- $revisions: its top tokens and their probabilities, for the routes page's click on a node or edge.
SELECT fact_id, revision, node, layer, position, tokens, probs
FROM node_lens
WHERE analysis_id = $analysis AND list_contains($revisions, revision)
ORDER BY fact_id, revision, node, layer, position;
