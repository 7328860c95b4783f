-- Where the informative score sits over training: early against late layers (first and second half),
-- per measure and hop, as a share of the revision's Σ|informative| (the paper: first-hop facts are stored
-- early, second-hop facts late).
SELECT n.name AS analysis, l.model, l.measure, l.hop, l.revision, l.ordinal, l.band,
       sum(l.abs_informative) / sum(sum(l.abs_informative)) OVER (PARTITION BY l.analysis_id, l.measure, l.hop, l.revision) AS share
FROM extractive_layers l JOIN analyses n USING (analysis_id)
GROUP BY n.name, l.analysis_id, l.model, l.measure, l.hop, l.revision, l.ordinal, l.band
ORDER BY analysis, l.measure, l.hop, l.ordinal, l.band;
