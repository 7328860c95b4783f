-- Each fact's learning step: the first stored revision from which its answer stays top-1 (NULL: never),
-- summarised per relation type: how many facts, how many learned, the median ordinal and step of learning.
WITH ordered AS (
    SELECT a.fact_id, f.relation_type, v.ordinal, v.step, a.top1,
           bool_and(a.top1) OVER (PARTITION BY a.fact_id ORDER BY v.ordinal DESC) AS stays
    FROM accuracy a JOIN revisions v USING (analysis_id, revision) JOIN analysis_facts f USING (analysis_id, fact_id)),
learned AS (
    SELECT fact_id, relation_type, min(ordinal) FILTER (WHERE stays) AS ordinal,
           min(step) FILTER (WHERE stays) AS step
    FROM ordered GROUP BY fact_id, relation_type)
SELECT coalesce(relation_type, 'all') AS facts, count(*) AS n_facts, count(ordinal) AS n_learned,
       median(ordinal) AS median_ordinal, median(step) AS median_step
FROM learned GROUP BY GROUPING SETS ((), (relation_type)) ORDER BY facts;
