-- One row per model in the store: its revisions, the latest run's settings, and final accuracy.
WITH final AS (
    SELECT model, arg_max(revision, ordinal) AS revision FROM revisions GROUP BY model
), latest_run AS (
    SELECT model, arg_max(pipeline, started_at) AS pipeline, arg_max(tau, started_at) AS tau,
           arg_max(theta, started_at) AS theta, arg_max(dtype, started_at) AS dtype,
           arg_max(device, started_at) AS device
    FROM runs GROUP BY model
), final_accuracy AS (
    SELECT a.model, avg(a.top1::INTEGER) AS top1, avg(a.top10::INTEGER) AS top10
    FROM accuracy a JOIN final f USING (model, revision) GROUP BY a.model
)
SELECT v.model, count(*) AS n_revisions, arg_min(v.revision, v.ordinal) AS first_revision,
       any_value(f.revision) AS final_revision, list(v.revision ORDER BY v.ordinal) AS revisions,
       any_value(r.pipeline) AS pipeline, any_value(r.tau) AS tau, any_value(r.theta) AS theta,
       any_value(r.dtype) AS dtype, any_value(r.device) AS device,
       any_value(fa.top1) AS final_top1, any_value(fa.top10) AS final_top10
FROM revisions v
JOIN final f USING (model)
LEFT JOIN latest_run r USING (model)
LEFT JOIN final_accuracy fa USING (model)
GROUP BY v.model
ORDER BY v.model;
