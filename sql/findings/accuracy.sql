-- Top-1 accuracy at the first, middle and last revision, over all facts and per relation type.
WITH revs AS (SELECT DISTINCT revision, ordinal FROM accuracy_by_relation),
picked AS (
    SELECT revision, ordinal FROM revs
    WHERE ordinal IN ((SELECT min(ordinal) FROM revs), (SELECT max(ordinal) FROM revs),
                      (SELECT quantile_disc(ordinal, 0.5) FROM revs)))
SELECT p.revision, p.ordinal, coalesce(f.relation_type, 'all') AS facts, count(*) AS n_facts,
       avg(a.top1::DOUBLE) AS top1
FROM accuracy a JOIN picked p USING (revision) JOIN analysis_facts f USING (analysis_id, fact_id)
GROUP BY GROUPING SETS ((p.revision, p.ordinal), (p.revision, p.ordinal, f.relation_type))
ORDER BY p.ordinal, facts;
