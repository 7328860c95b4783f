-- Per fact and position graft: how often the fact was learned between consecutive revisions, and how many of
-- those learnings the graft answers right (the facts are the resampling unit).
SELECT fact_id, relation, config, count(*) FILTER (WHERE learned) AS n_learned,
       count(*) FILTER (WHERE learned AND top1) AS n_recovered
FROM graft_outcomes
WHERE consecutive AND component = 'all' AND config NOT IN ('A', 'B')
GROUP BY ALL ORDER BY config, fact_id;
