-- Every learning between consecutive revisions (a fact wrong at the recipient, right at the donor) and
-- whether each position graft answers it right, with the pair's band of training (view graft_recovery's).
WITH sized AS (SELECT max(ordinal) + 1 AS n_revisions FROM revisions)
SELECT o.revision, o.ordinal, o.config, o.fact_id, o.relation, o.relation_type, o.top1::DOUBLE AS top1,
       CASE WHEN 3 * o.ordinal < s.n_revisions THEN 'early' WHEN 3 * o.ordinal < 2 * s.n_revisions THEN 'middle'
            ELSE 'late' END AS band
FROM graft_outcomes o CROSS JOIN sized s
WHERE o.consecutive AND o.component = 'all' AND o.learned
ORDER BY o.ordinal, o.config, o.fact_id;
