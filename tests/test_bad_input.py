"""No silent wrong data, and one line for every failure: each bad input is made here (a NaN copy of a
checkpoint, one with a tensor removed, a quoted probe file, a failing write, ...) and the test asserts
the one line, the exit code and that the store's other rows are unchanged."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
import torch

from trajectory.cli import main
from trajectory.errors import TrajectoryError
from trajectory.facts import load_builtin, load_probe_set

SMALL = "reference-small"
REPO = "trajectory/olmo-tiny-facts-small"
BROKEN = "step16-tokens6K"
THREE = "step8-tokens3K,step16-tokens6K,step24-tokens9K"
IFR_ONLY = ["--no-ablation", "--no-grafting", "--no-extractive"]
HEADER = "relation\ttemplate\tsubject\tobject\n"


def one_error_line(capsys) -> str:
    """The error printed: exactly one line starting 'error:' on stderr, and it is the last."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error")]
    assert len(errors) == 1 and err[-1] == errors[0], err
    return errors[0]


def rows(db: Path, table: str, revisions: list[str]) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(f"SELECT * EXCLUDE (analysis_id) FROM {table} WHERE list_contains(?, revision)", [revisions]).fetchall(), key=repr)
    finally:
        con.close()


# -- broken checkpoints ----------------------------------------------------------------------------------------------


def _broken_copy(small_suite, tmp_path: Path, how: str) -> Path:
    """A copy of the small reference's cache whose revision BROKEN is broken ``how``."""
    from safetensors.torch import load, save

    from trajectory.hub.cache_layout import write_snapshot
    from trajectory.hub.source import RevisionSource, repo_folder

    cache = tmp_path / "hub"
    shutil.copytree(repo_folder(small_suite.cache_dir, REPO), repo_folder(cache, REPO), symlinks=True)
    snapshot = RevisionSource(REPO, cache_dir=cache, offline=True).snapshot_dir(BROKEN)
    files = {p.relative_to(snapshot).as_posix(): p.read_bytes() for p in snapshot.rglob("*") if p.is_file()}
    weights = load(files["model.safetensors"])
    if how == "nan":
        weights["model.layers.1.self_attn.q_proj.weight"] = torch.full_like(weights["model.layers.1.self_attn.q_proj.weight"], float("nan"))
    elif how == "missing":
        del weights["model.layers.1.self_attn.q_proj.weight"]
    elif how == "misshaped":
        weights["model.layers.1.self_attn.q_proj.weight"] = weights["model.layers.1.self_attn.q_proj.weight"][:-1].clone()
    elif how == "tokenizer":
        files = {name: data for name, data in files.items() if not name.startswith("tokenizer")}
    files["model.safetensors"] = save(weights)
    write_snapshot(cache, REPO, BROKEN, files)
    return cache


@pytest.mark.slow
@pytest.mark.parametrize(
    "how, message",
    [
        ("nan", "has non-finite weights (NaN or inf) in model.layers.1.self_attn.q_proj.weight"),
        ("missing", "is not a complete checkpoint: missing model.layers.1.self_attn.q_proj.weight"),
        (
            "misshaped",
            "is not a complete checkpoint: mis-shaped model.layers.1.self_attn.q_proj.weight ((31, 32) in the checkpoint, (32, 32) expected)",
        ),
        ("tokenizer", "has no usable tokenizer"),
    ],
)
def test_a_broken_checkpoint_stops_its_revision_with_one_line_and_stores_nothing_of_it(small_store, small_suite, tmp_path, capsys, how, message):
    from trajectory.config import load_pipeline
    from trajectory.pipeline.orchestrator import ingest

    config = load_pipeline(SMALL).with_overrides(
        {
            "model.cache_dir": _broken_copy(small_suite, tmp_path, how),
            "ablation.enabled": False,
            "grafting.enabled": False,
            "extractive.enabled": False,
        }
    )
    db = tmp_path / "broken.duckdb"
    assert ingest(config, db, spec=THREE, progress=False) == 1
    out, err = capsys.readouterr()
    reports = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(reports) == 1 and reports[0].startswith(f"error: {BROKEN}: ") and message in reports[0], reports
    assert "1 of 3 revisions failed" in err and "LOAD REPORT" not in out + err
    for table in ("accuracy", "roles", "circuits", "logit_lens", "revisions"):
        assert rows(db, table, [BROKEN]) == [], table
    good = ["step8-tokens3K", "step24-tokens9K"]
    for table in ("accuracy", "roles", "circuits", "logit_lens"):
        assert rows(db, table, good) == rows(small_store, table, good), table  # the other revisions as a clean ingest's


def test_non_finite_logits_or_contributions_stop_the_trace(small_pair):
    from trajectory.ifr import trace
    from trajectory.ifr.trace import check_finite
    from trajectory.prompts import encode_probe_set

    _, model, _, tokenizer = small_pair
    encoded = encode_probe_set(tokenizer, list(load_builtin())[:4])
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[0, 0] = float("inf")  # an overflow inside the model, after loading
    with pytest.raises(TrajectoryError, match=r"non-finite logits \(NaN or inf\) for 4 of 4 prompts"):
        trace(model, encoded.input_ids, encoded.attention_mask)
    logits, valid = torch.zeros(2, 3, 5), torch.ones(2, 3, dtype=torch.bool)
    logits[1, 2, 0] = float("nan")
    valid[1, 2] = False
    check_finite(logits, valid, torch.tensor([True, True]))  # NaN at padding only: fine
    with pytest.raises(TrajectoryError, match=r"non-finite contributions \(NaN or inf\) at layer\(s\) 1$"):
        check_finite(logits, valid, torch.tensor([True, False]))


@pytest.mark.slow
def test_a_fact_longer_than_the_context_is_left_out_with_one_line(small_suite, tmp_path, capsys):
    facts = list(load_builtin())[:6]
    long_subject = " ".join(["Paris"] * 200)  # far beyond the small model's 128 positions
    path = tmp_path / "long.tsv"
    path.write_text(
        HEADER
        + "".join(f"{f.relation}\t{f.template}\t{f.subject}\t{f.object}\n" for f in facts)
        + f"city_in_country\t{{}} is a city in the country of\t{long_subject}\tFrance\n"
    )
    db = tmp_path / "long.duckdb"
    assert main(["-q", "ingest", "-p", SMALL, "--db", str(db), "-r", "main", "--facts", str(path), *IFR_ONLY]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning: fact 6 ")]
    assert len(warnings) == 1 and "longer than the model's context of 128" in warnings[0], out
    assert sorted(r[2] for r in rows(db, "accuracy", ["main"])) == list(range(6))  # fact_id; the long one not traced


# -- probe files -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("quoted.tsv", HEADER + 'r\t{} is in\t"Paris\tFrance\nr\t{} lies in\tRome\tItaly\n', None),
        ("short.tsv", HEADER + "r\t{} is in\tParis\n", "short.tsv:2: 3 tab-separated fields, the header has 4"),
        ("long.tsv", HEADER + "r\t{} is in\tParis\tFrance\tEurope\n", "long.tsv:2: 5 tab-separated fields, the header has 4"),
        ("latin1.tsv", (HEADER + "r\t{} is in\tZ\xfcrich\tSwitzerland\n").encode("latin-1"), "latin1.tsv:2: not UTF-8 text (byte 0xfc)"),
        ("bom.tsv", b"\xef\xbb\xbf" + (HEADER + "r\t{} is in\tParis\tFrance\n").encode(), None),
        (
            "unbalanced.csv",
            'relation,template,subject,object\nr,{} is in,"Paris,France\nr,{} lies in,Rome,Italy\n',
            "unbalanced.csv:2: a quoted field runs over 2 lines (an unbalanced quote?)",
        ),
        ("huge.tsv", HEADER + f"r\t{{}} is in\t{'x' * 200_000}\tFrance\n", None),
    ],
)
def test_probe_files_are_plain_lines_and_every_bad_line_is_named(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    if message is None:
        probes = load_probe_set(path)
        if name == "quoted.tsv":  # a field may start with a quote; no line swallows the next
            assert [(f.subject, f.object) for f in probes] == [('"Paris', "France"), ("Rome", "Italy")]
        else:
            assert probes.facts[0].relation == "r" and probes.facts[0].object == "France"
        return
    with pytest.raises(TrajectoryError) as err:
        load_probe_set(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_analyses_whose_names_differ_in_punctuation_get_their_own_pages(tmp_path):
    from synthetic_store import write_synthetic_store

    from trajectory.dashboard.build import build_dashboards

    db = tmp_path / "two.duckdb"
    write_synthetic_store(db, "aaaaaa01", "synthetic/my facts/tau=0.01/theta=0.1")
    write_synthetic_store(db, "bbbbbb02", "synthetic/my-facts/tau=0.01/theta=0.1", shift=1)
    pages = build_dashboards(db, tmp_path / "out", analysis="all", progress=False)
    training = [p for p in pages if p.name == "training.html"]
    assert len(training) == 2 and len({p.parent for p in training}) == 2
    assert {p.parent.name for p in training} == {"my-facts-tau0.01-theta0.1-aaaaaa", "my-facts-tau0.01-theta0.1-bbbbbb"}
    index = (tmp_path / "out" / "index.html").read_text()
    for page in training:
        assert f'href="{page.relative_to(tmp_path / "out").as_posix()}"' in index


def test_a_store_cannot_reach_the_readers_files(tmp_path, capsys):
    """Issue #39 item 4: stores are shared; a store whose table was replaced by a view reading a file of the reader's
    machine must not put that file into pages or query output. Every reader runs with DuckDB's external access off:
    the command stops with one line, and the file's text is nowhere."""
    from synthetic_store import write_synthetic_store

    secret = tmp_path / "secret.txt"
    secret.write_text("the reader's private text")
    db = write_synthetic_store(tmp_path / "hostile.duckdb")
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE facts RENAME TO facts_kept")
    con.execute(f"CREATE VIEW facts AS SELECT * REPLACE ((SELECT content FROM read_text('{secret}')) AS subject) FROM facts_kept")
    con.close()
    outputs = []
    for argv in (["dashboard", "--db", str(db), "--out", str(tmp_path / "pages")], ["query", "--db", str(db), "SELECT subject FROM facts"]):
        code = main(argv)
        said = capsys.readouterr()
        outputs.append(said.out + said.err)
        assert code != 0, argv
        (line,) = [line for line in said.err.splitlines() if line.startswith("error:")]
        assert line.startswith("error: the store asked to reach a file or the network, which a reader does not allow"), line
    written = [p.read_text(errors="replace") for p in (tmp_path / "pages").rglob("*.html")] if (tmp_path / "pages").exists() else []
    assert not any("private text" in text for text in outputs + written)


def test_suite_build_never_clears_a_folder_it_did_not_write(tmp_path, capsys):
    """Issue #39 item 2: `suite build --run-folder DIR` on someone's run (checkpoints and notes of theirs) is refused
    in one line before any work, and leaves DIR as it was; --force says to replace."""
    run = tmp_path / "their-run"
    (run / "checkpoint-3").mkdir(parents=True)
    (run / "checkpoint-3" / "model.safetensors").write_bytes(b"their weights")
    (run / "notes.txt").write_text("their notes")
    assert main(["suite", "build", "--small", "--run-folder", str(run)]) == 2
    assert one_error_line(capsys) == (
        f"error: {run} holds files the suite did not write; pass an empty or new --run-folder (or --force to replace them)"
    )
    assert sorted(p.name for p in run.rglob("*")) == ["checkpoint-3", "model.safetensors", "notes.txt"]


def test_a_store_path_that_keeps_nothing_or_blocks_is_refused(tmp_path, capsys):
    """Issue #39 item 6: --db :memory: would compute a whole ingest and keep nothing; --db a FIFO would block a query
    for ever. Each is one line before any work."""
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    assert main(["query", "SELECT 1", "--db", str(fifo)]) == 2
    assert one_error_line(capsys) == f"error: {fifo} is not a regular file (a pipe or a device?); pass --db a .duckdb file"
    assert main(["ingest", "-p", SMALL, "--db", ":memory:"]) == 2
    assert one_error_line(capsys) == "error: --db :memory: would keep nothing (DuckDB's in-memory database); pass --db a .duckdb file"


# -- the command line: one line each ---------------------------------------------------------------------------------


def _pipeline(tmp_path: Path, name: str, **replaced: str) -> Path:
    """The small reference's pipeline with lines replaced (key -> new line)."""
    from trajectory.config import resolve_pipeline_path

    lines = resolve_pipeline_path(SMALL).read_text().splitlines()
    for key, line in replaced.items():
        lines = [line if text.startswith(f"{key} =") else text for text in lines]
    if "keep" in replaced:
        lines += ["[cache]", replaced["keep"]]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_command_line_mistake_is_one_line(small_store, tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    shutil.copy(small_store, db)
    before = {t: rows(db, t, ["main"]) for t in ("roles", "accuracy")}
    folder = tmp_path / "a-folder"
    folder.mkdir()
    cases = [
        (["ingest", "-p", SMALL, "--db", str(db), "--device", "tpu"], "argument --device: the device must be auto, cpu, cuda"),
        (["ingest", "-p", SMALL, "--db", str(db), "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
        (["serve", "--db", str(db), "--port", "70000"], "argument --port: must be a TCP port, 0 to 65535"),
        (["serve", "--db", str(db), "--host", "192.0.2.1", "--port", "0"], "--host 192.0.2.1 would serve the store to other machines"),
        (["serve", "--db", str(db), "--host", "192.0.2.1", "--port", "0", "--allow-remote"], "that address is not one of this machine's"),
        (["query", "final_roles", "--db", str(db), "--output", str(folder)], f"--output {folder} is a folder"),
        (["ingest", "-p", str(_pipeline(tmp_path, "empty", select='select = ""')), "--db", str(db)], "revisions.select is empty"),
        (
            ["ingest", "-p", str(_pipeline(tmp_path, "keep", keep="keep_revisions = -1")), "--db", str(db)],
            "cache.keep_revisions must be 0 or more, got -1",
        ),
        (
            ["ingest", "-p", str(_pipeline(tmp_path, "tpu", device='device = "tpu"')), "--db", str(db)],
            "model.device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'",
        ),
    ]
    if not torch.cuda.is_available():
        cases.append((["ingest", "-p", SMALL, "--db", str(db), "--device", "cuda"], "device 'cuda': "))
    for argv, message in cases:
        assert main(["-q", *argv]) != 0, argv
        line = one_error_line(capsys)
        assert message in line, (argv, line)
    assert {t: rows(db, t, ["main"]) for t in before} == before
    assert not list(folder.iterdir())


def test_a_damaged_or_foreign_store_is_one_line(small_store, tmp_path, capsys):
    data = small_store.read_bytes()
    truncated = tmp_path / "truncated.duckdb"
    truncated.write_bytes(data[:5000])
    half = tmp_path / "half.duckdb"
    half.write_bytes(data[: len(data) // 2])
    lite = tmp_path / "x.sqlite"
    con = sqlite3.connect(lite)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    for db, message in (
        (truncated, "is truncated or damaged"),
        (half, "truncated or damaged"),
        (lite, "is not a DuckDB file (another database format)"),
    ):
        for argv in (["query", "final_roles", "--db", str(db)], ["ingest", "-p", SMALL, "--db", str(db), "-r", "main", *IFR_ONLY]):
            assert main(["-q", *argv]) != 0, argv
            assert message in one_error_line(capsys), (db, argv)
    assert truncated.read_bytes() == data[:5000]


@pytest.mark.slow
def test_a_failing_write_stops_the_ingest_with_one_line_and_keeps_the_store(small_store, tmp_path):
    db = tmp_path / "full.duckdb"
    shutil.copy(small_store, db)
    before = {t: rows(db, t, ["main", "step8-tokens3K"]) for t in ("roles", "accuracy", "revisions")}

    def small_files() -> None:  # as a full disk: writes past 300 kB fail (EFBIG) instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    done = subprocess.run(
        [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", SMALL, "--db", str(db), "--tau", "0.05", *IFR_ONLY],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: cannot write step8-tokens3K into "), errors
    assert "nothing of it was stored" in errors[0] and "Traceback" not in done.stdout
    assert {t: rows(db, t, ["main", "step8-tokens3K"]) for t in before} == before
    assert not db.with_name(db.name + ".ingest.lock").exists()


# -- queries never hold the store hostage --------------------------------------------------------------------------

CROSS_JOIN = "SELECT count(*) FROM range(100000000) a, range(100000000) b WHERE a.range + b.range = 7"


def _query(db: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trajectory", "query", CROSS_JOIN, "--db", str(db), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.slow
def test_ctrl_c_and_the_time_limit_stop_a_running_query(small_store):
    query = _query(small_store, "--timeout", "120")
    try:
        said = query.stderr.readline()  # the chosen analysis: said just before the query runs
        assert said.startswith("analysis: "), said
        time.sleep(2)  # deep in the join
        assert query.poll() is None
        stopped = time.monotonic()
        query.send_signal(signal.SIGINT)
        assert query.wait(timeout=10) == 130 and time.monotonic() - stopped < 5
        assert query.stderr.read().strip().splitlines()[-1] == "interrupted"
    finally:
        query.kill()
    started = time.monotonic()
    limited = _query(small_store, "--timeout", "1")
    try:
        assert limited.wait(timeout=60) == 2 and time.monotonic() - started < 30
        err = limited.stderr.read().strip().splitlines()
        assert err[-1] == "error: query stopped after its time limit of 1 s; pass --timeout SECONDS (0: none) for a longer one"
    finally:
        limited.kill()


@pytest.mark.slow
def test_an_ingest_waits_for_a_reader_and_loses_nothing(small_store, tmp_path):
    db = tmp_path / "read.duckdb"
    shutil.copy(small_store, db)
    reader = duckdb.connect(str(db), read_only=True)  # a long query of another process holds the file
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", SMALL, "--db", str(db), "--tau", "0.05", "-r", "main", *IFR_ONLY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        for line in ingest.stderr:  # the first line that says what it waits for (other lines may come before)
            lines.append(line)
            if line.startswith("waiting for"):
                break
        assert lines and lines[-1].startswith(f"waiting for {db}: another process (pid {os.getpid()}) has it open"), lines
        time.sleep(2)
        assert ingest.poll() is None  # still waiting, not failed
    finally:
        reader.close()
    assert ingest.wait(timeout=120) == 0, ingest.stderr.read()
    stored = pl.from_arrow(
        duckdb.connect(str(db), read_only=True)
        .sql("SELECT a.tau, count(*) AS n FROM roles JOIN analyses a USING (analysis_id) WHERE revision = 'main' GROUP BY 1")
        .arrow()
    )
    assert dict(stored.iter_rows()) == {0.01: 100, 0.05: 100}


# -- the rest of the catalogue --------------------------------------------------------------------------------------


def test_the_ingest_lock_file_is_removed_when_the_ingest_ends(small_store, tmp_path):
    """Held (with the holder's pid) while an ingest runs, removed when it ends, whether it succeeded or failed."""
    from trajectory.cli import main
    from trajectory.store.db import ingest_lock

    db = tmp_path / "copy.duckdb"
    shutil.copy(small_store, db)
    lock = db.with_name(db.name + ".ingest.lock")
    with ingest_lock(db):
        assert lock.read_text() == f"pid {os.getpid()}"
        assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db)]) != 0  # busy: said, not waited for
    assert not lock.exists()
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db)]) == 0 and not lock.exists()  # nothing to redo
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db), "-r", "no-such-revision"]) != 0 and not lock.exists()
    assert not small_store.with_name(small_store.name + ".ingest.lock").exists()  # the session's own ingest left none


def test_pull_request_refs_are_not_revisions(tmp_path):
    from trajectory.hub.cache_layout import write_snapshot
    from trajectory.hub.source import RevisionSource

    for branch in ("step10-tokens1K", "main", "pr/1", "pr/12"):
        write_snapshot(tmp_path, "org/model", branch, {"model.safetensors": b"x" + branch.encode(), "config.json": b"{}"})
    assert [r.name for r in RevisionSource("org/model", cache_dir=tmp_path, offline=True).list_revisions()] == ["step10-tokens1K", "main"]


def test_a_damaged_suite_marker_means_not_built(tmp_path):
    from trajectory.hub.source import repo_folder
    from trajectory.suite.build import LAYOUT, MARKER, _config_dict, is_built
    from trajectory.suite.build import SMALL as SMALL_SUITE

    marker = repo_folder(tmp_path, SMALL_SUITE.repo_id) / MARKER
    marker.parent.mkdir(parents=True)
    whole = json.dumps({"config": _config_dict(SMALL_SUITE), "layout": LAYOUT, "revisions": ["main"], "accuracy": {}})
    marker.write_text(whole)
    assert is_built(SMALL_SUITE, tmp_path)
    marker.write_text(whole[: len(whole) // 2])  # truncated
    assert not is_built(SMALL_SUITE, tmp_path)
    marker.write_bytes(b"\xff\xfe")
    assert not is_built(SMALL_SUITE, tmp_path)


def test_export_follows_a_symlink_and_refuses_a_read_only_folder(small_store, tmp_path, capsys):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert main(["-q", "export", "--db", str(small_store), "--out", str(tmp_path / "link")]) == 0
    assert (tmp_path / "link").is_symlink() and (target / "analyses.parquet").is_file()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    assert main(["-q", "export", "--db", str(small_store), "--out", str(locked / "x")]) == 2
    assert f"{locked} is read-only; make the folder writable or pass another --out" in one_error_line(capsys)
    assert not list(locked.iterdir())


def test_serve_keeps_its_pages_when_the_store_is_deleted(small_store, tmp_path):
    from trajectory.dashboard.serve import _Pages

    db = tmp_path / "gone.duckdb"
    shutil.copy(small_store, db)
    pages = _Pages(db, tmp_path / "pages", None, None)
    pages.refresh()
    db.unlink()
    with pytest.raises(TrajectoryError, match="is gone"):
        pages.refresh()
    assert (tmp_path / "pages" / "index.html").is_file()


def test_csv_output_writes_nested_values_as_json_text(small_store, capsys):
    assert main(["query", "SELECT [1, 2] AS positions, {'a': [3]} AS s, [[1], [2, 3]] AS nested", "--db", str(small_store), "-f", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ['positions,s,nested', '"[1, 2]","{""a"": [3]}","[[1], [2, 3]]"']


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "final_roles", "--output", "{db}"],
        ["query", "final_roles", "--format", "json", "-o", "{db}.wal"],
        ["findings", "--out", "{db}"],
        ["routes", "--fact", "0", "--revision", "main", "--graphml", "{db}"],
    ],
)
def test_no_command_writes_its_output_over_the_store(tmp_path, capsys, argv):
    import hashlib

    from synthetic_store import write_synthetic_store

    db = write_synthetic_store(tmp_path / "store.duckdb")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    flag = {"-o": "--output"}.get(argv[-2], argv[-2])  # the error names the long flag
    assert main([*(a.format(db=db) for a in argv), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {flag} ") and err.endswith("is the store itself (--db); name another file") and "\n" not in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "SELECT 1 AS one", "-f", "csv", "-o", "{out}"],
        ["findings", "--out", "{out}"],
        ["routes", "--fact", "0", "--revision", "main", "--graphml", "{out}"],
    ],
)
def test_no_command_replaces_an_existing_file_unless_forced(tmp_path, capsys, argv):
    from synthetic_store import write_synthetic_store

    db = write_synthetic_store(tmp_path / "store.duckdb")
    out = tmp_path / "notes.txt"
    out.write_text("someone's notes\n")
    flag = {"-o": "--output"}.get(argv[-2], argv[-2])
    assert main([*(a.format(out=out) for a in argv), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {flag} {out} exists; pass --force to replace it, or name another file"
    assert out.read_text() == "someone's notes\n"
    forced = main([*(a.format(out=out) for a in argv), "--db", str(db), "--force"])
    if argv[0] == "routes":  # the synthetic store holds no route graph: past the check, the command says so
        assert forced == 2 and "no route graph" in capsys.readouterr().err
    else:
        assert forced == 0 and out.read_text() != "someone's notes\n"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["routes", "--fact", "0", "--revision", "main", "--threshold", "nan"], "argument --threshold: must be in [0, 1), got nan"),
        (["routes", "--fact", "0", "--revision", "main", "--threshold", "-0.1"], "argument --threshold: must be in [0, 1), got -0.1"),
        (["routes", "--fact", "0", "--revision", "main", "--threshold", "2"], "argument --threshold: must be in [0, 1), got 2"),
        (["query", "final_roles", "--timeout", "-1"], "argument --timeout: must be in [0, 3.1536e+07] seconds (0: no limit), got -1"),
        (["query", "final_roles", "--timeout", "nan"], "argument --timeout: must be in [0, 3.1536e+07] seconds (0: no limit), got nan"),
        (["ingest", "--watch", "--poll", "nan"], "argument --poll: must be in (0, 86400] seconds (a day at most), got nan"),
        (["serve", "--request-timeout", "0"], "argument --request-timeout: must be in (0, 3600] seconds (an hour at most), got 0"),
        (["ingest", "--watch", "--poll", "1e308"], "argument --poll: must be in (0, 86400] seconds (a day at most), got 1e308"),
        (["ingest", "--watch", "--idle-timeout", "nan"], "argument --idle-timeout: must be in (0, 3.1536e+07] seconds (a year at most)"),
        (["ingest", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
        (["ingest", "--seed", str(2**64)], "argument --seed: must be below 2**63 (torch's seeds are 64-bit)"),
        (["suite", "build", "--seed", str(2**64)], "argument --seed: must be below 2**63"),
    ],
)
def test_flag_values_out_of_range_are_refused_with_one_line(tmp_path, capsys, argv, message):
    assert main([*argv, *(["--db", str(tmp_path / "none.duckdb")] if argv[0] in ("routes", "query") else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 2  # argparse's usage line, then the one line
    assert not (tmp_path / "none.duckdb").exists()


def test_findings_of_an_empty_store_and_output_into_a_missing_folder_say_so(tmp_path, capsys):
    from trajectory.store.db import writer

    db = tmp_path / "empty.duckdb"
    with writer(db):
        pass  # a store with its schema and nothing ingested
    assert main(["findings", "--db", str(db)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {db} holds no analysis with stored revisions; run trajectory ingest first"
    missing = tmp_path / "no-such-folder" / "out.csv"
    assert main(["query", "SELECT 1 AS one", "--db", str(db), "--format", "csv", "-o", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --output {missing}: the folder {missing.parent} does not exist; create it or name another file"
    )
    assert not missing.parent.exists()


def test_a_damaged_block_is_said_to_be_damaged_not_busy(tmp_path, capsys):
    """64 zeroed bytes inside a used block: DuckDB's "... in block at location ..." holds "lock", which once read as
    another process's lock (a reader said "busy" after 10 s, an ingest waited forever)."""
    from synthetic_store import write_synthetic_store

    from trajectory.store.db import writer

    db = write_synthetic_store(tmp_path / "store.duckdb")
    with open(db, "r+b") as f:
        f.seek(8192)
        f.write(bytes(64))
    started = time.monotonic()
    assert main(["query", "final_roles", "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is truncated or damaged" in err and "busy" not in err and time.monotonic() - started < 5
    signal.alarm(30)  # the writer once waited here forever
    try:
        with pytest.raises(TrajectoryError, match="is truncated or damaged"):
            with writer(db):
                pass
    finally:
        signal.alarm(0)
