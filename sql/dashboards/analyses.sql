-- One row per analysis the reader is scoped to: its settings, revisions, the latest run, final accuracy.
WITH final AS (
    SELECT analysis_id, revision FROM final_revisions
), latest_run AS (
    SELECT analysis_id, arg_max(pipeline, started_at) AS pipeline, arg_max(device, started_at) AS device
    FROM runs GROUP BY analysis_id
), final_accuracy AS (
    SELECT a.analysis_id, avg(a.top1::INTEGER) AS top1, avg(a.top10::INTEGER) AS top10
    FROM accuracy a JOIN final f USING (analysis_id, revision) GROUP BY a.analysis_id
)
SELECT n.analysis_id, n.name, n.model, p.name AS probe_set, n.tau, n.theta, n.ffn_renormalisation, n.dtype,
       count(*) AS n_revisions, arg_min(v.revision, v.ordinal) AS first_revision,
       any_value(f.revision) AS final_revision, list(v.revision ORDER BY v.ordinal) AS revisions,
       any_value(r.pipeline) AS pipeline, any_value(r.device) AS device,
       any_value(fa.top1) AS final_top1, any_value(fa.top10) AS final_top10
FROM revisions v
JOIN analyses n USING (analysis_id)
LEFT JOIN probe_sets p USING (probe_set_id)
JOIN final f USING (analysis_id)
LEFT JOIN latest_run r USING (analysis_id)
LEFT JOIN final_accuracy fa USING (analysis_id)
GROUP BY ALL
ORDER BY n.model, min(n.created_at), n.name;
