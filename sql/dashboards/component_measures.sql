-- Each head's and FFN's story over training: its IFR general score (the share of the probe facts' circuits holding
-- it, at every revision), and where the component-effects stage ran, its mean IFR importance and its mean change of
-- R when ablated alone over the measured facts (R_clean − R_none ≥ 1 logit), with their standard deviation and n
-- (the chart draws a t-interval from them).
WITH scores AS (
    SELECT revision, kind, layer, coalesce(head, -1) AS head, max(score) FILTER (WHERE scope = 'general') AS general_score
    FROM component_scores WHERE analysis_id = $analysis GROUP BY ALL
), effects AS (
    SELECT revision, kind, layer, head, avg(importance) AS mean_importance, avg(effect) AS mean_effect,
           stddev_samp(effect) AS sd_effect, count(*) AS n_facts, bool_and(estimated) AS estimated
    FROM fact_effects WHERE analysis_id = $analysis AND measured GROUP BY ALL
)
SELECT a.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, kind, layer, head,
       s.general_score, e.mean_importance, e.mean_effect, e.sd_effect, e.n_facts, e.estimated
FROM scores s
FULL JOIN effects e USING (revision, kind, layer, head)
JOIN revision_axis a ON a.analysis_id = $analysis AND a.revision = revision
ORDER BY kind DESC, layer, head, a.ordinal;
