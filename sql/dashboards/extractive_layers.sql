-- Per layer (heads and FFN together) and revision, each score summed over the layer's components
-- (view extractive_layers), for the pretraining measure (hop '*') and each hop of the finetune measure.
SELECT l.measure, l.hop, l.layer, l.revision, a.ordinal, a.x_step,
       l.informative, l.upstream, l.downstream
FROM extractive_layers l
JOIN revision_axis a USING (analysis_id, revision)
WHERE l.analysis_id = $analysis
ORDER BY l.measure DESC, l.hop, a.ordinal, l.layer;
