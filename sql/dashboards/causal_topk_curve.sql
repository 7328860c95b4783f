-- The mean threshold-free curve per revision (view topk_curve: faithfulness against the share of components
-- kept, over the facts with a denominator), and where the circuits of each stored τ of this model and probe set
-- sit on it (kind 'circuit': the mean share of components in a fact's circuits, the median faithfulness of
-- keeping only them; label: τ).
WITH me AS (SELECT model, probe_set_id FROM analyses WHERE analysis_id = $analysis)
SELECT 'curve' AS kind, c.revision, c.ordinal, NULL AS label, c.k, avg(c.share_kept) AS share_kept,
       avg(c.faithfulness) AS faithfulness, count(c.faithfulness) AS n_facts
FROM topk_curve c WHERE c.analysis_id = $analysis
GROUP BY ALL
UNION ALL
SELECT 'circuit', s.revision, s.ordinal, 'τ = ' || a.tau, NULL, avg(s.circuit_components / s.n_components), median(s.circuit_faithfulness),
       count(s.circuit_faithfulness)
FROM topk_summary s
JOIN analyses a USING (analysis_id)
JOIN me ON me.model = a.model AND me.probe_set_id = a.probe_set_id
GROUP BY ALL
ORDER BY 3, 1 DESC, 5, 4;
