-- The training loss the model's revisions publish (training_loss: the Trainer's log_history, or the reference's
-- build), and beside it the share of probe facts whose first answer token is top-1 at each revision with a known
-- step, with its stored interval over all facts where there is one.
SELECT 'loss' AS series, step, loss AS value, NULL::DOUBLE AS lower, NULL::DOUBLE AS upper, NULL::BIGINT AS n, NULL AS revision
FROM training_loss WHERE model = $model
UNION ALL
SELECT 'top-1', v.step, avg(a.top1::INTEGER), any_value(i.lower), any_value(i.upper), count(*), a.revision
FROM accuracy a
JOIN revisions v USING (analysis_id, revision)
LEFT JOIN intervals i ON i.analysis_id = a.analysis_id AND i.measure = 'top1' AND i.revision = a.revision AND i.scope = '*'
WHERE a.analysis_id = $analysis AND v.step IS NOT NULL
GROUP BY ALL
ORDER BY series, step;
