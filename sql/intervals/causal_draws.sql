-- Each role set's effect on its own relation's facts (all facts for general and entity sets, relation '*'),
-- and each of its random controls' (draw; NULL: the set itself): mean of R_ablated − R_clean over the facts.
WITH measured AS (
    SELECT b.revision, b.target, b.role, coalesce(b.relation, '*') AS relation, b.draw, b.reward - c.reward AS effect,
           b.n_heads + b.n_ffns AS components
    FROM ablations b
    JOIN ablations c ON c.analysis_id = b.analysis_id AND c.revision = b.revision AND c.fact_id = b.fact_id AND c.target = 'clean'
    JOIN analysis_facts f ON f.analysis_id = b.analysis_id AND f.fact_id = b.fact_id
    WHERE b.target IN ('role', 'random') AND (b.relation IS NULL OR f.relation = b.relation))
SELECT m.revision, v.ordinal, m.role, m.relation, m.draw, avg(m.effect) AS effect, max(m.components) AS components,
       count(*) AS n_facts
FROM measured m JOIN (SELECT DISTINCT revision, ordinal FROM revisions) v USING (revision)
GROUP BY ALL ORDER BY v.ordinal, m.role, m.relation, m.draw NULLS FIRST;
