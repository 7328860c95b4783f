-- Faithfulness of the circuits at the final revision (all facts), and how many (revision, role set) tests the
-- ablation stage made (one row, NULLs where the stage stored nothing).
WITH final AS (
    SELECT * FROM faithfulness_over_revisions
    WHERE relation = '*' AND bucket = '*' AND ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions))
SELECT f.n_facts, f.n_measured, f.faithfulness_median, f.mean_circuit_components,
       (SELECT count(*) FROM role_causality) AS n_tests
FROM (SELECT 1) one LEFT JOIN final f ON true;
