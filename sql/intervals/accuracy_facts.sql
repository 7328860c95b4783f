-- Each fact's top-1 and top-10 at every revision (the facts are the resampling unit).
SELECT a.revision, v.ordinal, a.fact_id, f.relation, f.relation_type, a.top1, a.top10
FROM accuracy a JOIN revisions v USING (analysis_id, revision) JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY v.ordinal, a.fact_id;
