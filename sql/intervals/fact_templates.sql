-- Each fact's template number and how many templates its fact key has (view paraphrase_facts).
SELECT fact_id, template_number, n_templates FROM paraphrase_facts ORDER BY fact_id;
