-- Each role set's effect on its own relation's facts (all facts for general and entity sets, relation '*'),
-- and each of its random controls' (draw; NULL: the set itself): mean of R_ablated − R_clean over the facts;
-- the set's heads and FFNs and the model's (those the 'none' rows ablate).
WITH measured AS (
    SELECT b.revision, b.target, b.role, coalesce(b.relation, '*') AS relation, b.draw, b.reward - c.reward AS effect,
           b.n_heads, b.n_ffns
    FROM ablations b
    JOIN ablations c ON c.analysis_id = b.analysis_id AND c.revision = b.revision AND c.fact_id = b.fact_id AND c.target = 'clean'
    JOIN analysis_facts f ON f.analysis_id = b.analysis_id AND f.fact_id = b.fact_id
    WHERE b.target IN ('role', 'random') AND (b.relation IS NULL OR f.relation = b.relation)
), totals AS (
    SELECT revision, max(n_heads) AS total_heads, max(n_ffns) AS total_ffns FROM ablations WHERE target = 'none' GROUP BY ALL
)
SELECT m.revision, v.ordinal, m.role, m.relation, m.draw, avg(m.effect) AS effect, max(m.n_heads) AS n_heads,
       max(m.n_ffns) AS n_ffns, any_value(t.total_heads) AS total_heads, any_value(t.total_ffns) AS total_ffns,
       count(*) AS n_facts
FROM measured m
JOIN (SELECT DISTINCT revision, ordinal FROM revisions) v USING (revision)
JOIN totals t USING (revision)
GROUP BY ALL ORDER BY v.ordinal, m.role, m.relation, m.draw NULLS FIRST;
