-- Schema version 5: the training stage of a revision (OLMo-2 names its branches stage1-…, and
-- stage2-ingredient{K}-… for each mid-training data mix, whose steps and tokens count from 0 again). NULL for
-- names without a stage (a single-stage run). Existing rows get it from the built-in name scheme.
ALTER TABLE revisions ADD COLUMN stage INTEGER;
UPDATE revisions SET stage = CAST(regexp_extract(revision, '^stage([0-9]+)-', 1) AS INTEGER)
WHERE regexp_matches(revision, '^stage[0-9]+-');
