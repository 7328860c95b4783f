-- Faithfulness of the circuits at the final revision (all facts), and role sets ever causal against
-- size-matched controls, with how many (revision, role set) tests there were.
SELECT (SELECT any_value(n_facts) FROM faithfulness_over_revisions o WHERE o.relation = '*' AND o.bucket = '*'
          AND o.ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions)) AS n_facts,
       (SELECT any_value(n_measured) FROM faithfulness_over_revisions o WHERE o.relation = '*' AND o.bucket = '*'
          AND o.ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions)) AS n_measured,
       (SELECT any_value(faithfulness_median) FROM faithfulness_over_revisions o WHERE o.relation = '*' AND o.bucket = '*'
          AND o.ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions)) AS faithfulness_median,
       (SELECT any_value(mean_circuit_components) FROM faithfulness_over_revisions o WHERE o.relation = '*' AND o.bucket = '*'
          AND o.ordinal = (SELECT max(ordinal) FROM faithfulness_over_revisions)) AS mean_circuit_components,
       (SELECT count(*) FROM role_causality) AS n_tests,
       (SELECT count(*) FILTER (WHERE size_matched) FROM role_causality) AS n_size_matched,
       (SELECT count(*) FILTER (WHERE causal) FROM role_causality) AS n_causal,
       (SELECT string_agg(DISTINCT role, ', ') FILTER (WHERE causal) FROM role_causality) AS causal_roles;
