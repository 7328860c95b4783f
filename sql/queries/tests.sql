-- Every stored test (computed by the ingest): what it compares, the estimate with its interval, the statistic, p and the Benjamini-Hochberg adjusted p within its family, and whether it is a finding.
SELECT n.name AS analysis, c.family, c.test, c.revision, c.subject, c.a, c.b, round(c.estimate, 4) AS estimate,
       round(c.lower, 4) AS lower, round(c.upper, 4) AS upper, c.statistic, c.p, c.p_adjusted, c.n_a, c.n_b, c.finding
FROM comparisons c JOIN analyses n USING (analysis_id)
ORDER BY analysis, c.finding DESC, c.p_adjusted, c.family;
