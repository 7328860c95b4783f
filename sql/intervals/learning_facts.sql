-- Each fact's top-1 at every revision, in training order; step NULL where the revision's step is unknown (never
-- replaced by its ordinal, which is no step: a fact first stable there is learned at an unknown step after every
-- known one).
SELECT a.fact_id, f.relation, f.relation_type, v.ordinal, v.step, a.top1
FROM accuracy a JOIN revisions v USING (analysis_id, revision) JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY a.fact_id, v.ordinal;
