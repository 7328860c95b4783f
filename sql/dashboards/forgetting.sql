-- Facts losing and regaining top-1 between consecutive revisions (view forgetting_over_revisions), by relation and
-- by frequency bucket ('*': all facts): the share of the facts right at the previous revision that are wrong now,
-- and of those right once but wrong at the previous revision that are right again, each with its Wilson interval
-- and the facts it rests on (<measure>_n).
SELECT g.dimension, g.grp, g.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, g.n_right_before AS n_facts,
       g.share_lost, g.share_lost_lower, g.share_lost_upper, g.n_right_before AS share_lost_n,
       g.share_regained, g.share_regained_lower, g.share_regained_upper, g.n_forgotten_before AS share_regained_n
FROM forgetting_over_revisions g JOIN revision_axis a USING (analysis_id, revision)
WHERE g.analysis_id = $analysis
ORDER BY g.dimension DESC, g.grp, a.ordinal;
