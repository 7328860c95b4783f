-- Per fact and revision of $analysis: the first answer token's rank, and the logit lens at each layer (rank at
-- the last prompt token, best rank over the subject's tokens).
SELECT a.fact_id, v.ordinal, a.answer_rank, list(l.rank_last ORDER BY l.layer) AS lens_last,
       list(l.rank_subject ORDER BY l.layer) AS lens_subject
FROM accuracy a
JOIN revisions v USING (analysis_id, revision)
LEFT JOIN logit_lens l USING (analysis_id, revision, fact_id)
WHERE a.analysis_id = $analysis
GROUP BY ALL
ORDER BY a.fact_id, v.ordinal;
