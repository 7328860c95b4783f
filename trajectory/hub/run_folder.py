"""A training run on disk as a source of revisions: a folder of checkpoint folders, each a Hugging Face
model folder (config and weights; the tokenizer in it or at the run's root), as trainers write them:
the Hugging Face Trainer's ``output_dir/checkpoint-N/``, ``stepN/`` exports, or names the pipeline's
``revisions.pattern`` reads. Steps come from the folder names (trajectory.hub.revisions).

A checkpoint folder still being written is never read. It counts as complete when it holds
``trainer_state.json`` (what the Trainer writes after the weights and config), and otherwise when it has
a config, every weight file its index names, and no file in it has changed for ``settle_s`` seconds
(sizes and times that stopped changing: a plain folder of exports has no other sign).

Revisions are the run's files: nothing is downloaded or released. Content hashes are sha256 over the
weight files' bytes, so identical checkpoints are found as for Hub revisions.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trajectory.errors import TrajectoryError
from trajectory.hub.revisions import Revision, order_revisions, parse_revision
from trajectory.hub.source import TRAINER_STATE, content_hash_from_file_hashes, file_sha256, is_weight_file, load_checked

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

TRAINER_MARK = TRAINER_STATE  # the Hugging Face Trainer writes it after the model files
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "tokenizer.model")


@dataclass
class RunFolderSource:
    """The complete checkpoints under ``run``; ``repo_id`` is the model's name in the store."""

    run: Path
    repo_id: str
    pattern: re.Pattern | None = None
    settle_s: float = 30.0

    def __post_init__(self) -> None:
        self.run = Path(self.run).expanduser()
        self._hashes: dict[str, str] = {}
        self._said: set[str] = set()

    # -- listing ----------------------------------------------------------------------------

    def _candidates(self) -> dict[str, Path]:
        """Subfolders whose name reads as a step (a checkpoint, complete or not)."""
        if not self.run.is_dir():
            raise TrajectoryError(f"{self.run}: no such run folder (model.path); point it at the folder of checkpoint folders (no revisions yet)")
        found = {}
        for folder in self.run.iterdir():
            if folder.is_dir() and not folder.name.startswith(".") and parse_revision(folder.name, self.pattern).step is not None:
                found[folder.name] = folder
            elif folder.is_dir() and re.fullmatch(r"(checkpoint-|step)\d+", folder.name) and folder.name not in self._said:
                self._said.add(folder.name)  # a step beyond what the store holds (2^63 - 1): said once, never read
                print(f"warning: {folder} left out: its step is beyond 2^63 - 1", file=sys.stderr, flush=True)
        return found

    def is_complete(self, folder: Path) -> bool:
        if (folder / TRAINER_MARK).is_file():
            return True
        if not (folder / "config.json").is_file() or not self._weights_whole(folder):
            return False
        newest = max(p.stat().st_mtime for p in folder.rglob("*") if p.is_file())
        return time.time() - newest >= self.settle_s

    @staticmethod
    def _weights_whole(folder: Path) -> bool:
        for index in folder.glob("*.index.json"):
            try:
                shards = set(json.loads(index.read_text())["weight_map"].values())
            except (ValueError, KeyError, OSError):
                return False  # an index being written
            if not all((folder / shard).is_file() for shard in shards):
                return False
        return any(is_weight_file(p) for p in folder.iterdir())

    @property
    def location(self) -> str:
        return str(self.run)

    def list_revisions(self) -> list[Revision]:
        """The complete checkpoints, in step order."""
        return order_revisions([name for name, folder in self._candidates().items() if self.is_complete(folder)], self.pattern)

    def pending(self) -> list[str]:
        """Checkpoint folders that are there but not complete yet (none while the run folder is not there yet)."""
        if not self.run.is_dir():
            return []
        return sorted(name for name, folder in self._candidates().items() if not self.is_complete(folder))

    # -- the source interface the pipeline uses ------------------------------------------------

    def folder_of(self, revision: str) -> Path:
        folder = self.run / revision
        if not folder.is_dir() or not self.is_complete(folder):
            raise TrajectoryError(f"{folder}: not a complete checkpoint folder (yet)")
        return folder

    def download(self, revision: str) -> Path:
        return self.folder_of(revision)  # the run's own files: nothing to fetch

    def load(self, revision: str, *, dtype: str = "float32", device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        folder = self.folder_of(revision)
        has_tokenizer = any((folder / name).is_file() for name in TOKENIZER_FILES)
        return load_checked(folder, folder if has_tokenizer else self.run, {}, str(folder), dtype, device)

    def content_hash(self, revision: str) -> str | None:
        if revision not in self._hashes:
            folder = self.folder_of(revision)
            self._hashes[revision] = content_hash_from_file_hashes(
                {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(folder.rglob("*")) if is_weight_file(p)}
            )
        return self._hashes[revision]

    def newest_weight_change(self, revision: str) -> float:
        """When a weight file of the checkpoint last changed (seconds since the epoch): cheap, unlike its hash."""
        folder = self.folder_of(revision)
        return max((p.stat().st_mtime for p in folder.rglob("*") if is_weight_file(p)), default=0.0)

    def side_file(self, revision: str, name: str) -> Path | None:
        path = self.run / revision / name
        return path if path.is_file() else None

    def is_on_disk(self, revision: str) -> bool:
        folder = self.run / revision
        return folder.is_dir() and self.is_complete(folder)

    def cached_commit(self, revision: str) -> str | None:
        return None  # no commit: a folder on disk

    def was_cached_before(self, revision: str) -> bool:
        return True  # the user's files: never released

    def release(self, revision: str) -> bool:
        return False

    def download_bytes(self, revision: str) -> int:
        return 0
