-- Each fact's threshold-free curve summary at every revision (view topk_summary), named as the causal page's
-- measures: the normalised area and the smallest k reaching 80 % of the clean reward (NULL: none, or no denominator).
SELECT t.ordinal, t.revision, t.fact_id, t.relation, f.relation_type, t.bucket, t.area AS topk_area,
       t.k80::DOUBLE AS topk_k80
FROM topk_summary t JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY t.ordinal, t.fact_id;
