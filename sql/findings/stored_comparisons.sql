-- The analysis's stored tests (trajectory.pipeline.intervals).
SELECT * FROM comparisons ORDER BY family, revision, subject, a, b;
