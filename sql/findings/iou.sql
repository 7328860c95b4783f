-- IoU of the pooled role sets with the final revision, averaged over the first and the second half of the
-- revisions (the final revision itself left out), with how many revisions each mean rests on.
WITH halves AS (
    SELECT kind, role, iou, CASE WHEN ordinal * 2 < (SELECT max(ordinal) FROM revisions) THEN 'first half' ELSE 'second half' END AS part
    FROM role_iou WHERE relation = '*' AND ordinal < (SELECT max(ordinal) FROM revisions) AND role <> 'deactivated')
SELECT kind, role, part, count(iou) AS n_revisions, avg(iou) AS mean_iou
FROM halves GROUP BY ALL HAVING count(iou) > 0 ORDER BY kind DESC, role, part;
