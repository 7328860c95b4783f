-- Each fact's circuit shape at every revision (view circuit_shape), named as the causal page's measures.
SELECT c.ordinal, c.revision, c.fact_id, f.relation, f.relation_type, c.bucket, c.n_components::DOUBLE AS mean_components,
       c.mean_layer, c.iou_final AS mean_iou_final, c.edge_iou_final AS mean_edge_iou_final
FROM circuit_shape c JOIN analysis_facts f USING (analysis_id, fact_id)
ORDER BY c.ordinal, c.fact_id;
