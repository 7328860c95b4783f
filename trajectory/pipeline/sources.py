"""Turn a pipeline declaration into a revision source and a selected, ordered revision list."""

from __future__ import annotations

import re
from pathlib import Path

from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.hub.protocol import Source
from trajectory.hub.revisions import Revision, parse_revision, revision_pattern, select_revisions
from trajectory.hub.run_folder import RunFolderSource
from trajectory.hub.source import RevisionSource


def open_source(config: PipelineConfig, *, progress: bool = True) -> Source:
    """The pipeline's revision source; a reference suite is built on first use."""
    if config.model.suite:
        from trajectory.suite.build import build_suite
        from trajectory.suite.recipe import preset, seeded

        suite = seeded(preset(config.model.suite, config.model.suite_arch), config.model.suite_seed)
        if suite.repo_id != config.repo_id:
            raise TrajectoryError(
                f"{config.path}: suite {config.model.suite!r} ({config.model.suite_arch}) builds {suite.repo_id}, not {config.repo_id}"
            )
        build_suite(suite, config.model.cache_dir, progress=progress)
    return cache_source(config)


def cache_source(config: PipelineConfig, cache_dir: Path | None = None) -> Source:
    """The pipeline's revisions in its cache (or in ``cache_dir``: a Ray task's own download folder), or the
    checkpoint folders of its training run (``model.path``), read in place."""
    if config.model.path is not None:
        return RunFolderSource(config.model.path, config.repo_id, name_pattern(config), config.model.settle_s)
    return RevisionSource(config.repo_id, cache_dir=cache_dir or config.model.cache_dir, offline=config.model.offline, pattern=name_pattern(config))


def selected_revisions(config: PipelineConfig, source: Source, spec: str | None = None) -> list[Revision]:
    """Apply the pipeline's selection (or ``spec``, which replaces it) to the repository's revisions."""
    return select_revisions(spec or config.selection, source.list_revisions())


def explicit_names(config: PipelineConfig) -> list[Revision] | None:
    """The selection parsed without the Hub, when it is a plain list of names (for offline listing)."""
    names = [n.strip() for n in config.revisions.select.split(",") if n.strip()]
    if any(n == "all" or ":" in n or n[0] in "-!" for n in names):
        return None
    excluded = set(config.revisions.exclude)
    pattern = name_pattern(config)
    return [parse_revision(n, pattern) for n in names if n not in excluded]


def name_pattern(config: PipelineConfig) -> re.Pattern | None:
    """The pipeline's own revision-name pattern, compiled (None: the built-in shapes only)."""
    return revision_pattern(config.revisions.pattern, f"{config.path}: revisions.pattern") if config.revisions.pattern else None
