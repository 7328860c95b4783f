"""Shared fixtures: an isolated TRAJECTORY_HOME, the small reference suite and its ingested store,
built once per session."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

# Each builds a reference first (the small one, its run folder, or its GPT-NeoX twin).
SUITE_FIXTURES = {"small_suite", "small_store", "small_pair", "neox_store", "built_run", "batch_store"}


def pytest_collection_modifyitems(items) -> None:
    """A test that needs a built suite is slow whether or not it says so: the quick loop (-m "not slow") never
    builds one."""
    for item in items:
        if SUITE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def trajectory_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("trajectory_home")
    previous = os.environ.get("TRAJECTORY_HOME")
    os.environ["TRAJECTORY_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield home
    if previous is None:
        os.environ.pop("TRAJECTORY_HOME", None)
    else:
        os.environ["TRAJECTORY_HOME"] = previous


@pytest.fixture(scope="session")
def small_suite(trajectory_home):
    from trajectory.suite.build import SMALL, build_suite

    return build_suite(SMALL, trajectory_home / "hub", progress=False)


@pytest.fixture(scope="session")
def small_store(small_suite, tmp_path_factory) -> Path:
    """The small reference ingested in this process (every stage); ``ingest.log`` beside it holds what it printed."""
    from trajectory.config import load_pipeline
    from trajectory.pipeline.orchestrator import ingest

    db = tmp_path_factory.mktemp("store") / "small.duckdb"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert ingest(load_pipeline("reference-small"), db, progress=False) == 0
    (db.parent / "ingest.log").write_text(said.getvalue())  # what the ingest printed, beside the store
    return db


@pytest.fixture
def small_pair(small_suite):
    """The small reference's revision names, its second and third revisions loaded, and its tokenizer:
    (names, model at names[1], model at names[2], tokenizer)."""
    from trajectory.config import load_pipeline
    from trajectory.pipeline.sources import open_source

    source = open_source(load_pipeline("reference-small"), progress=False)
    names = [r.name for r in source.list_revisions()]
    first, tokenizer = source.load(names[1])
    second, _ = source.load(names[2])
    return names, first, second, tokenizer
