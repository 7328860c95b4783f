"""What every revision source offers (a model's Hub repository, trajectory.hub.source.RevisionSource; a training
run's checkpoint folders, trajectory.hub.run_folder.RunFolderSource): callers use this, never probe for methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from trajectory.hub.revisions import Revision

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class Source(Protocol):
    @property
    def location(self) -> str:
        """Where the revisions come from, for messages (a repository id, a run folder)."""

    def list_revisions(self) -> list[Revision]:
        """Every revision there is, in training order."""

    def pending(self) -> list[str]:
        """Revisions being written that are not complete yet (none for a repository)."""

    def download(self, revision: str) -> Path: ...

    def download_bytes(self, revision: str) -> int: ...

    def load(self, revision: str, *, dtype: str = "float32", device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]: ...

    def content_hash(self, revision: str) -> str | None: ...

    def cached_commit(self, revision: str) -> str | None: ...

    def side_file(self, revision: str, name: str) -> Path | None: ...

    def is_on_disk(self, revision: str) -> bool: ...

    def was_cached_before(self, revision: str) -> bool: ...

    def release(self, revision: str) -> bool: ...
