-- The headline measures of every stored revision with a known step, one row per (revision, metric), for experiment
-- trackers (trajectory.integrations.trackers): run over a store scoped to one analysis. Metric names form the
-- namespace trajectory/...; a measure whose stage did not run at a revision has no row there.
WITH steps AS (
    SELECT revision, ordinal, step FROM revisions WHERE step IS NOT NULL
), top1 AS (  -- top-1 of the first answer token: all facts and each relation type
    SELECT a.revision, 'trajectory/top1/' || g.scope AS metric, avg(a.top1::INTEGER) AS value
    FROM accuracy a JOIN analysis_facts f USING (analysis_id, fact_id)
    CROSS JOIN LATERAL (SELECT unnest(['all', f.relation_type]) AS scope) g
    GROUP BY ALL
), active AS (
    SELECT revision, 'trajectory/active/' || kind AS metric, n_active::DOUBLE AS value FROM active_components
), roles AS (  -- components per role, each counted once at its strongest role over the relations (as the training page)
    SELECT revision, 'trajectory/roles/' || kind || '/' || role AS metric, count(*)::DOUBLE AS value
    FROM strongest_roles GROUP BY ALL
), members AS (
    SELECT revision, kind, role, member_relation || '/' || layer || '/' || head AS member
    FROM role_members WHERE relation = '*' AND role <> 'deactivated'
), pairs AS (  -- each revision with a known step and the stored one before it
    SELECT revision, before FROM (SELECT revision, lag(revision) OVER (ORDER BY ordinal) AS before FROM steps) WHERE before IS NOT NULL
), sizes AS (
    SELECT revision, kind, role, count(*) AS n FROM members GROUP BY ALL
), shared AS (
    SELECT p.revision, m.kind, m.role, count(*) AS n
    FROM pairs p JOIN members m ON m.revision = p.revision
    JOIN members o ON o.revision = p.before AND o.kind = m.kind AND o.role = m.role AND o.member = m.member
    GROUP BY ALL
), previous_iou AS (  -- IoU of each role set, as (relation, component) pairs, with the previous revision's
    SELECT p.revision, 'trajectory/iou_previous/' || k.kind || '/' || k.role AS metric,
           iou(coalesce(c.n, 0), coalesce(a.n, 0), coalesce(b.n, 0))::DOUBLE AS value
    FROM pairs p CROSS JOIN (SELECT DISTINCT kind, role FROM members) k
    LEFT JOIN sizes a ON a.revision = p.revision AND a.kind = k.kind AND a.role = k.role
    LEFT JOIN sizes b ON b.revision = p.before AND b.kind = k.kind AND b.role = k.role
    LEFT JOIN shared c ON c.revision = p.revision AND c.kind = k.kind AND c.role = k.role
), faithfulness AS (
    SELECT revision, 'trajectory/faithfulness/median' AS metric, faithfulness_median AS value
    FROM faithfulness_over_revisions WHERE relation = '*' AND bucket = '*' AND faithfulness_median IS NOT NULL
), agreement AS (  -- where the component effects were measured: IFR circuits against the causal ones
    SELECT revision, 'trajectory/causal/' || measure AS metric, value
    FROM effect_agreement_over_revisions
    UNPIVOT (value FOR measure IN (iou, precision, recall, n_costly_heads))
    WHERE relation = '*' AND value IS NOT NULL
)
SELECT s.revision, s.step, m.metric, m.value
FROM (SELECT * FROM top1 UNION ALL SELECT * FROM active UNION ALL SELECT * FROM roles UNION ALL SELECT * FROM previous_iou
      UNION ALL SELECT * FROM faithfulness UNION ALL SELECT revision, metric, value::DOUBLE FROM agreement) m
JOIN steps s USING (revision)
WHERE m.value IS NOT NULL AND isfinite(m.value)
ORDER BY s.ordinal, m.metric;
