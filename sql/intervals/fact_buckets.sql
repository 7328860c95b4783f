-- Each fact's frequency bucket (high | medium | low), where the store knows how often the training data states it.
SELECT fact_id, bucket FROM fact_buckets ORDER BY fact_id;
