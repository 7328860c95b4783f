-- Each fact's top-1 at the first, middle and last revision (the facts are the resampling unit).
WITH revs AS (SELECT DISTINCT revision, ordinal FROM revisions),
picked AS (
    SELECT revision, ordinal FROM revs
    WHERE ordinal IN ((SELECT min(ordinal) FROM revs), (SELECT max(ordinal) FROM revs),
                      (SELECT quantile_disc(ordinal, 0.5) FROM revs)))
SELECT p.revision, p.ordinal, a.fact_id, f.relation, f.relation_type, a.top1
FROM accuracy a JOIN picked p USING (revision) JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY p.ordinal, a.fact_id;
