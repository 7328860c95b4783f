-- The facts each head or FFN serves most: the 12 measured facts whose R its ablation lowers most on average over
-- the revisions with effects, with its effect on each (ΔR) and its IFR importance for it at each of those revisions.
WITH per_fact AS (
    SELECT kind, layer, head, fact_id, avg(effect) AS mean_effect
    FROM fact_effects WHERE analysis_id = $analysis AND measured GROUP BY ALL
), chosen AS (
    SELECT * FROM per_fact QUALIFY row_number() OVER (PARTITION BY kind, layer, head ORDER BY mean_effect, fact_id) <= 12
)
SELECT e.kind, e.layer, e.head, e.fact_id, f.subject, f.relation, f.object, c.mean_effect AS rank_effect,
       e.revision, e.ordinal, e.effect, e.importance, e.in_ifr, e.causal
FROM fact_effects e
JOIN chosen c USING (kind, layer, head, fact_id)
JOIN analysis_facts f ON f.analysis_id = e.analysis_id AND f.fact_id = e.fact_id
WHERE e.analysis_id = $analysis AND e.measured
ORDER BY e.kind DESC, e.layer, e.head, c.mean_effect, e.fact_id, e.ordinal;
