"""The front door and the reference: README short with a measured time, docs/reference.md naming every
command, flag, pipeline key, table, view and named query that exists, user docs without issue numbers or
dated history."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from trajectory.cli import build_parser
from trajectory.config import setting_keys
from trajectory.store.db import writer
from trajectory.store.query import named_queries

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands(parser: argparse.ArgumentParser, prefix: str = "trajectory"):
    """(command, its option strings) for every command and sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options = [o for a in sub._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) for o in a.option_strings]
                yield f"{prefix} {name}", options
                yield from commands(sub, f"{prefix} {name}")


def test_the_reference_names_every_command_and_flag():
    missing = []
    for command, options in commands(build_parser()):
        section = re.search(rf"### `{re.escape(command)}`\n(.*?)(?=\n### |\n## |\Z)", REFERENCE, re.S)
        if section is None:
            missing.append(command)
            continue
        missing += [f"{command} {o}" for o in options if f"`{o}`" not in section[1]]
    assert not missing, missing


def test_the_reference_names_every_pipeline_key_table_view_and_query(tmp_path):
    with writer(tmp_path / "fresh.duckdb") as con:
        relations = con.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    names = [*setting_keys(), *(name for (name,) in relations), *named_queries()]
    assert len(names) > 100
    missing = [name for name in names if f"`{name}`" not in REFERENCE]
    assert not missing, missing


def test_the_readme_is_a_front_door_with_the_measured_time():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    measured = json.loads((ROOT / "benchmarks" / "results" / "first_command.json").read_text())
    minutes, seconds = divmod(round(measured["wall_s"]), 60)
    assert f"{minutes}:{seconds:02d}" in readme  # the time the benchmark measured, not prose
    assert (ROOT / "docs" / "images" / "dashboard.png").is_file() and "docs/images/dashboard.png" in readme
    for doc in ("method", "questions", "reference", "findings", "performance", "scaling", "families"):
        assert f"docs/{doc}.md" in readme and (ROOT / "docs" / f"{doc}.md").is_file()


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: p.name)
def test_user_docs_carry_no_issue_numbers_or_dated_history(doc):
    text = doc.read_text()
    assert not re.search(r"issue #?\d+|#\d{1,3}\b", text, re.I), re.search(r"issue #?\d+|#\d{1,3}\b", text, re.I)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), re.search(r"\b20\d\d-\d\d-\d\d\b", text)


def test_findings_are_written_from_the_store_with_their_denominators(small_store, tmp_path, capsys):
    """The learning counts against a literal walk over the stored accuracy rows."""
    import duckdb

    from trajectory.cli import main

    out = tmp_path / "findings.md"
    assert main(["findings", "--db", str(small_store), "--out", str(out)]) == 0
    text = out.read_text()
    con = duckdb.connect(str(small_store), read_only=True)
    rows = con.sql("""SELECT a.fact_id, f.relation_type, v.ordinal, a.top1 FROM accuracy a JOIN revisions v USING (analysis_id, revision)
                      JOIN facts f ON f.fact_id = a.fact_id ORDER BY v.ordinal""").fetchall()
    con.close()
    history: dict[int, list[bool]] = {}
    kind: dict[int, str] = {}
    for fact, relation_type, _, top1 in rows:
        history.setdefault(fact, []).append(top1)
        kind[fact] = relation_type
    learned = {fact for fact, seen in history.items() if seen[-1]}  # right at the last revision: it stays right from some revision
    for facts in ("location", "name"):
        members = [f for f in history if kind[f] == facts]
        assert f"- {facts} facts: {len(learned & set(members))} of {len(members)} learned" in text
    assert text.startswith("# Findings: olmo-tiny-facts-small/") and "## Roles" in text and "## Causal checks" in text
    assert "(n = 160 facts)" in text
    assert "95 % Wilson score interval" in text
    # The accuracy table's rows, recomputed from the stored top-1 with scipy's Wilson interval: first, middle, last revision.
    from scipy.stats import binomtest

    ordered = sorted({ordinal for _, _, ordinal, _ in rows})
    names = dict(duckdb.connect(str(small_store), read_only=True).sql("SELECT ordinal, revision FROM revisions").fetchall())
    for ordinal in (ordered[0], ordered[len(ordered) // 2], ordered[-1]):
        cells = []
        for scope in ("*", "location", "name"):
            hits = [top1 for fact, relation_type, at, top1 in rows if at == ordinal and scope in ("*", relation_type)]
            low, high = binomtest(sum(hits), len(hits)).proportion_ci(0.95, method="wilson")
            cells.append(
                f"{round(100 * sum(hits) / len(hits)) + 0.0:.0f} % [{round(100 * low) + 0.0:.0f}, {round(100 * high) + 0.0:.0f}] of {len(hits)}"
            )
        assert f"| {names[ordinal]} | {' | '.join(cells)} |" in text
    # The role test: 19 draws on every 2nd revision and the last (3 of 5), every set untestable in this 2-layer model.
    con = duckdb.connect(str(small_store), read_only=True)
    n_sets, n_untestable, n_revisions, draws, reason = con.sql(
        "SELECT count(*), count(reason), count(DISTINCT revision), min(n_draws), mode(reason) FROM role_tests"
    ).fetchall()[0]
    con.close()
    assert f"against {draws} random sets of as many heads and FFNs, at {n_revisions} revisions" in text
    assert (
        f"0 of {n_sets - n_untestable} testable (revision, set) tests are findings ({n_untestable} untestable, most often because {reason})" in text
    )


def test_the_readme_findings_are_lines_of_the_generated_findings():
    """The README restates findings only by quoting docs/findings.md (written by `trajectory findings`)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- findings:", 1)[1].split("<!-- /findings -->", 1)[0]
    quoted = [line for line in block.splitlines()[1:] if line.strip()]
    findings = (ROOT / "docs" / "findings.md").read_text().splitlines()
    assert len(quoted) >= 3 and all(line in findings for line in quoted), [q for q in quoted if q not in findings]
    measured = json.loads((ROOT / "benchmarks" / "results" / "intervals.json").read_text())
    assert f"{round(measured['default_settings']['seconds'])} s" in readme  # the benchmark's figure, not prose


def _render_outputs():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("render_outputs", ROOT / "docs" / "render_outputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_every_quoted_output_has_its_command_and_the_columns_it_writes(small_store):
    """docs/questions.md's outputs are written by docs/render_outputs.py from a store of the reference (its --check
    compares every row there); here, on the small store, each quoted query still runs and writes the quoted columns."""
    import contextlib
    import io

    from trajectory.cli import main

    render = _render_outputs()
    blocks = render.output_blocks((ROOT / "docs" / "questions.md").read_text())
    assert len(blocks) >= 10
    checked = 0
    for block in blocks:
        assert len(block.commands) == len(block.segments), f"questions.md:{block.start + 1}: a command per quoted output"
        for command, segment in zip(block.commands, block.segments):
            named = [command[i + 1] for i, word in enumerate(command[:-1]) if word in ("--analysis", "-a")]
            if command[0] != "query" or (named and named[0] != "all"):
                continue  # routes and other analyses' queries need the reference's revisions and analyses
            said = io.StringIO()
            with contextlib.redirect_stdout(said):  # in this process: the same arguments as the renderer's
                assert main(render.cli_args(command, small_store)) == 0
            header = said.getvalue().splitlines()[0]
            assert header == segment[0], f"questions.md:{block.start + 1}: trajectory {' '.join(command)}"
            checked += 1
    assert checked >= 12


def test_a_quoted_output_is_cut_where_the_doc_cuts_it():
    render = _render_outputs()
    assert render.rendered(["a,b", "1,2", "..."], ["a,b", "1,2", "3,4", "5,6"]) == ["a,b", "1,2", "..."]
    assert render.rendered(["a,b", "1,2", "..."], ["a,b", "1,2"]) == ["a,b", "1,2"]
    assert render.rendered(["a,b", "1,2"], ["a,b", "7,8", "9,9"]) == ["a,b", "7,8", "9,9"]
    text = "Intro\n\n    trajectory query \"SELECT 1 AS x\n                      FROM t\"   # a comment\n    trajectory ingest --tau 0.05\n\n```\nx\n1\n```\n"
    (block,) = render.output_blocks(text)
    assert block.commands == [["query", "SELECT 1 AS x FROM t"]] and block.segments == [["x", "1"]]


def test_the_designs_table_is_the_one_the_benchmark_writes():
    """docs/method.md quotes `python benchmarks/reference_phenomena.py --table` (from the committed results file)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reference_phenomena", ROOT / "benchmarks" / "reference_phenomena.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = json.loads((ROOT / "benchmarks" / "results" / "reference_designs.json").read_text())
    method = (ROOT / "docs" / "method.md").read_text()
    quoted = method.split("<!-- designs: python benchmarks/reference_phenomena.py --table -->\n", 1)[1].split("<!-- /designs -->", 1)[0]
    assert quoted == module.design_table(table)
    assert "silent-wd1" in table and "| silent-wd1 | (the default) |" in quoted
