"""The name of the self-built reference trained from another seed: its own model, ``<repo>-seed<N>`` (seed 0 is
``<repo>`` itself). Built and read here only (sql/views/seed_views.sql reads it with the same pattern)."""

from __future__ import annotations

import re

_SEEDED = re.compile(r"(?P<base>.+?)-seed(?P<seed>\d+)")


def seeded_repo(repo_id: str, seed: int) -> str:
    """``repo_id`` (itself, or another seed's name) trained from ``seed``."""
    base, _ = repo_seed(repo_id)
    return base if seed == 0 else f"{base}-seed{seed}"


def repo_seed(repo_id: str) -> tuple[str, int]:
    """(base repo, seed) of a model name: ``org/m-seed2`` -> (``org/m``, 2), ``org/m`` -> (``org/m``, 0)."""
    match = _SEEDED.fullmatch(repo_id)
    return (match["base"], int(match["seed"])) if match else (repo_id, 0)
