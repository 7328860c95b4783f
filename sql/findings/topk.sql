-- The threshold-free curve at the final revision (view topk_summary): facts with a curve, mean area and k reaching
-- 80 %, the components, and the analysis's own circuits' mean size and median faithfulness (one row).
SELECT count(area) AS n_facts, avg(area) AS mean_area, avg(k80) AS mean_k80, any_value(n_components) AS n_components,
       avg(circuit_components) AS circuit_size, median(circuit_faithfulness) AS circuit_faithfulness
FROM topk_summary WHERE ordinal = (SELECT max(ordinal) FROM topk_summary);
