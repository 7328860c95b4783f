-- Each fact's single-component effects at every revision with effects (view fact_effects): whether the fact is
-- measured and whether each component is in its causal circuit, for re-classifying causal roles under resampling.
SELECT ordinal::SMALLINT AS ordinal, fact_id, measured, kind = 'head' AS is_head, layer::SMALLINT AS layer,
       head::SMALLINT AS head, causal
FROM fact_effects
WHERE effect IS NOT NULL
ORDER BY ordinal, fact_id;
