-- Role flows between the chosen revisions ($revisions, in training order): how many components went
-- from role a at one chosen revision to role b at the next, per relation; relation '*' follows each
-- component's strongest role over the relations.
WITH chosen AS (
    SELECT revision, list_position($revisions, revision) AS stage
    FROM revisions WHERE analysis_id = $analysis AND list_contains($revisions, revision)
), members AS (
    SELECT relation, revision, kind, layer, coalesce(head, -1) AS head, role FROM roles WHERE analysis_id = $analysis
    UNION ALL
    SELECT '*', revision, kind, layer, head, role FROM strongest_roles WHERE analysis_id = $analysis
), staged AS (
    SELECT m.*, c.stage FROM members m JOIN chosen c USING (revision)
)
SELECT a.relation, a.kind, a.stage AS from_stage, a.revision AS from_revision, a.role AS from_role,
       b.revision AS to_revision, b.role AS to_role, count(*) AS n
FROM staged a
JOIN staged b ON b.relation = a.relation AND b.kind = a.kind AND b.layer = a.layer AND b.head = a.head
             AND b.stage = a.stage + 1
GROUP BY ALL
ORDER BY a.relation, a.kind, a.stage, a.role, b.role;
