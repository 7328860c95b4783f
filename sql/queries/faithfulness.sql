-- Faithfulness of the circuits over training (ablation stage): per revision and relation ('*': all facts), the median of (R_circuit_only − R_none) / (R_clean − R_none) over the facts where R_clean − R_none >= 1 logit, and the top-1 shares clean / circuit only / circuit ablated.
SELECT n.name AS analysis, f.revision, f.relation, f.n_facts, f.n_measured,
       round(f.faithfulness_median, 3) AS faithfulness, round(f.share_top1_clean, 3) AS top1_clean,
       round(f.share_top1_circuit_only, 3) AS top1_circuit_only, round(f.share_top1_complement, 3) AS top1_complement,
       round(f.mean_circuit_components, 1) AS circuit_components
FROM faithfulness_over_revisions f JOIN analyses n USING (analysis_id)
WHERE f.bucket = '*'
ORDER BY analysis, f.ordinal, f.relation;
