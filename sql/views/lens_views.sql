-- Where the answer appears (logit lens, table logit_lens). Per fact: the first layer whose residual stream
-- ranks the answer top-1 at the last prompt token, and at some subject token (NULL: no layer does); the
-- answer's best rank at the subject over all layers; its rank at the last token after the last layer
-- (the model's own prediction).
CREATE OR REPLACE VIEW answer_emergence AS
SELECT l.analysis_id, l.model, l.revision, v.ordinal, l.fact_id, f.relation, f.relation_type,
       min(l.layer) FILTER (WHERE l.rank_last = 0) AS first_layer_last,
       min(l.layer) FILTER (WHERE l.rank_subject = 0) AS first_layer_subject,
       min(l.rank_subject) AS best_rank_subject,
       arg_max(l.rank_last, l.layer) AS final_rank_last
FROM logit_lens l
JOIN revisions v USING (analysis_id, revision)
JOIN analysis_facts f USING (analysis_id, fact_id)
GROUP BY ALL;

-- Per revision and relation type ('*': all facts): the share of facts whose answer is top-1 at the last
-- token (final layer), top-1 and top-10 at the subject at some layer, and the mean first layers (over the
-- facts where it exists). subject_first: the share, among facts the last token gets at some layer, whose
-- subject gets it at the same layer or earlier ("enrichment before recall").
CREATE OR REPLACE VIEW answer_emergence_by_revision AS
SELECT analysis_id, model, revision, ordinal, coalesce(relation_type, '*') AS relation_type, count(*) AS n_facts,
       avg((final_rank_last = 0)::INTEGER) AS share_top1_last,
       avg((best_rank_subject = 0)::INTEGER) AS share_top1_subject,
       avg((best_rank_subject < 10)::INTEGER) AS share_top10_subject,
       avg(first_layer_last) AS mean_first_layer_last,
       avg(first_layer_subject) AS mean_first_layer_subject,
       avg((first_layer_subject IS NOT NULL AND first_layer_subject <= first_layer_last)::INTEGER)
           FILTER (WHERE first_layer_last IS NOT NULL) AS subject_first
FROM answer_emergence
GROUP BY GROUPING SETS ((analysis_id, model, revision, ordinal, relation_type), (analysis_id, model, revision, ordinal));

-- answer_emergence_by_revision by frequency bucket (fact_buckets; '*': all facts with a bucket).
CREATE OR REPLACE VIEW answer_emergence_by_bucket AS
SELECT e.analysis_id, e.model, e.revision, e.ordinal, CASE WHEN grouping(k.bucket) = 1 THEN '*' ELSE k.bucket END AS bucket,
       count(*) AS n_facts,
       avg((e.final_rank_last = 0)::INTEGER) AS share_top1_last,
       avg((e.best_rank_subject = 0)::INTEGER) AS share_top1_subject,
       avg((e.best_rank_subject < 10)::INTEGER) AS share_top10_subject,
       avg((e.first_layer_subject IS NOT NULL AND e.first_layer_subject <= e.first_layer_last)::INTEGER)
           FILTER (WHERE e.first_layer_last IS NOT NULL) AS subject_first
FROM answer_emergence e JOIN fact_buckets k ON k.analysis_id = e.analysis_id AND k.fact_id = e.fact_id
GROUP BY GROUPING SETS ((e.analysis_id, e.model, e.revision, e.ordinal, k.bucket), (e.analysis_id, e.model, e.revision, e.ordinal));
