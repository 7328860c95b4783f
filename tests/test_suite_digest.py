"""The reference is the same bytes on every machine: its build runs with pinned kernels, and its weights digest
is published (trajectory.suite.recipe.PUBLISHED_DIGESTS). The small preset is built here; a second build is
launched from a process asking for other kernels and threads, and must give the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from trajectory.hub.source import repo_folder
from trajectory.suite.build import MARKER, SMALL, digest_line, digest_note, weights_digest
from trajectory.suite.recipe import PUBLISHED_DIGESTS


def test_small_build_has_the_published_weights(small_suite):
    marker = json.loads((repo_folder(small_suite.cache_dir, SMALL.repo_id) / MARKER).read_text())
    # Recomputed from the files, not only read from the marker.
    assert weights_digest(small_suite.cache_dir, SMALL.repo_id, small_suite.revisions) == marker["weights_digest"]
    assert marker["weights_digest"] == PUBLISHED_DIGESTS[SMALL.repo_id]
    assert digest_line(SMALL, marker["weights_digest"]) == f"weights digest {marker['weights_digest'][:12]} (as published)"


@pytest.mark.slow
def test_build_is_the_same_under_other_kernels_and_threads(tmp_path):
    """The fixture's build ran from this process (its own kernels, default threads); this one from a process asking
    for AVX2 kernels and 4 threads."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", OMP_NUM_THREADS="4", MKL_NUM_THREADS="4", TRAJECTORY_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "trajectory", "-q", "suite", "build", "--small"], env=env, capture_output=True, text=True, check=True
    )
    assert "(as published)" in done.stdout
    marker = json.loads((repo_folder(tmp_path / "hub", SMALL.repo_id) / MARKER).read_text())
    assert marker["weights_digest"] == PUBLISHED_DIGESTS[SMALL.repo_id]


def test_a_differing_build_is_said_in_one_line():
    note = digest_note(SMALL, "0" * 64)
    assert note is not None and "\n" not in note
    assert note.startswith(f"{SMALL.repo_id}: weights digest 000000000000 differs from the published")
    assert digest_note(SMALL, PUBLISHED_DIGESTS[SMALL.repo_id]) is None
    unpublished = replace(SMALL, repo_id="someone/else")
    assert digest_note(unpublished, "0" * 64) is None
    assert digest_line(unpublished, "0" * 64).endswith("(none published for this build)")
