-- Where each head looks from the token that predicts a fact's answer (table root_attention), at the analysis's last
-- revision that stored it: the 12 facts it serves most (its ablation lowers their R most on average over the
-- revisions with effects, as component_facts; without effects, the first 12 facts), each with its weights over
-- the prompt's tokens up to that root.
WITH last AS (
    SELECT arg_max(v.revision, v.ordinal) AS revision
    FROM revisions v
    WHERE v.analysis_id = $analysis AND v.revision IN (SELECT DISTINCT revision FROM root_attention WHERE analysis_id = $analysis)
), served AS (
    SELECT layer, head, fact_id, avg(effect) AS mean_effect
    FROM fact_effects WHERE analysis_id = $analysis AND measured AND kind = 'head' GROUP BY ALL
), ranked AS (
    SELECT a.layer, a.head, a.fact_id, a.revision, a.weights, s.mean_effect,
           row_number() OVER (PARTITION BY a.layer, a.head ORDER BY s.mean_effect NULLS LAST, a.fact_id) AS place
    FROM root_attention a
    JOIN last l ON l.revision = a.revision
    LEFT JOIN served s ON s.layer = a.layer AND s.head = a.head AND s.fact_id = a.fact_id
    WHERE a.analysis_id = $analysis
)
SELECT 'head' AS kind, r.layer, r.head, r.place, r.fact_id, f.subject, f.relation, f.object, r.mean_effect, r.revision, r.weights,
       p.tokens[1:len(r.weights)] AS tokens
FROM ranked r
JOIN analyses a ON a.analysis_id = $analysis
JOIN facts f ON f.probe_set_id = a.probe_set_id AND f.fact_id = r.fact_id
JOIN prompts p ON p.probe_set_id = a.probe_set_id AND p.model = a.model AND p.fact_id = r.fact_id
WHERE r.place <= 12
ORDER BY r.layer, r.head, r.place;
