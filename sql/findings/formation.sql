-- Do recall circuits form? The view circuit_formation at the first revision, the first whose top-1 reaches 20 %, the
-- middle one and the last, in revision order, with flags saying which each is (one revision may be several).
WITH ranked AS (
    SELECT *, row_number() OVER (ORDER BY ordinal) - 1 AS position, count(*) OVER () AS n_revisions FROM circuit_formation
), learned AS (
    SELECT min(ordinal) AS ordinal FROM circuit_formation WHERE top1 >= 0.2
)
SELECT r.revision, r.ordinal, r.top1, r.n_facts, r.n_heads, r.fact_head_share, r.active_heads, r.costly_heads, r.topk_share80,
       r.n_topk_facts, r.position = 0 AS is_first, coalesce(r.ordinal = l.ordinal, false) AS is_learned,
       r.position = r.n_revisions // 2 AS is_middle, r.position = r.n_revisions - 1 AS is_last
FROM ranked r CROSS JOIN learned l
WHERE r.position IN (0, r.n_revisions // 2, r.n_revisions - 1) OR r.ordinal = l.ordinal
ORDER BY r.ordinal;
