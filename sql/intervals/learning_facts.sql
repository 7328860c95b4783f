-- Each fact's top-1 at every revision, in training order (a revision without a step counts by its ordinal).
SELECT a.fact_id, f.relation, f.relation_type, v.ordinal, coalesce(v.step, v.ordinal) AS step, a.top1
FROM accuracy a JOIN revisions v USING (analysis_id, revision) JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY a.fact_id, v.ordinal;
