-- Schema version 8: the FFN renormalisation first named 'study' is llm-transparency-tool's helper, which the
-- study's own code did not use (METHOD.md §3): it is 'llm-tt' now. Analysis ids stay as they were (the id
-- hashes the first name, trajectory.store.analyses.IDENTITY_NAMES); names and the column say what it is.
UPDATE analyses
SET ffn_renormalisation = 'llm-tt', name = replace(name, '/ffn=study', '/ffn=llm-tt')
WHERE ffn_renormalisation = 'study';
