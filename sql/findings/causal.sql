-- Faithfulness of the circuits at the final revision (all facts), and the role-causality tests (table role_tests,
-- view role_causality): revisions tested, sets, testable sets, findings, causal sets (a finding that beats its
-- control on no other relation), the test used, how many of the pseudo role sets of the sets the tail tested have
-- p ≤ 0.05 (one row, NULLs where the
-- stage stored nothing).
WITH final AS (
    SELECT * FROM faithfulness_over_revisions
    WHERE relation = '*' AND bucket = '*' AND ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions)
), tests AS (
    SELECT count(DISTINCT revision) AS n_test_revisions, count(*) AS n_sets, count(*) FILTER (WHERE reason IS NULL) AS n_testable,
           count(*) FILTER (WHERE finding) AS n_findings, count(*) FILTER (WHERE test = 'normal tail') AS n_tail,
           min(n_draws) AS n_draws, min(n_facts) AS min_facts, max(n_facts) AS max_facts, min(p) AS smallest_p,
           round(sum(pseudo_below_05 * n_draws) FILTER (WHERE test = 'normal tail'))::INTEGER AS n_pseudo_below_05,
           (sum(n_draws) FILTER (WHERE test = 'normal tail'))::INTEGER AS n_pseudo,
           mode(reason) AS common_reason
    FROM role_tests
), causal AS (
    SELECT count(*) FILTER (WHERE causal) AS n_causal,
           string_agg(DISTINCT role || CASE WHEN relation = '*' THEN '' ELSE ' (' || relation || ')' END, ', ' ORDER BY role || CASE WHEN relation = '*' THEN '' ELSE ' (' || relation || ')' END) FILTER (WHERE causal) AS causal_sets
    FROM role_causality
)
SELECT f.n_facts, f.n_measured, f.faithfulness_median, f.mean_circuit_components, t.*, c.*
FROM (SELECT 1) one LEFT JOIN final f ON true, tests t, causal c;
