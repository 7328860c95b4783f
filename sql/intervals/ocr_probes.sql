-- Each OCR probe's implication rank after finetuning, per revision and hop (the probes are the resampling unit).
SELECT o.revision, v.ordinal, o.hop, o.probe_id, o.implication_rank
FROM ocr o JOIN revisions v USING (analysis_id, revision)
ORDER BY v.ordinal, o.hop, o.probe_id;
