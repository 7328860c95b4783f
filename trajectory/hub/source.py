"""Revisions of one Hub repository: list, download (only what is needed), load, hash, release.

Online it asks the Hub (``list_repo_refs``, ``model_info``, ``snapshot_download``); offline
(``HF_HUB_OFFLINE=1`` or ``offline=True``) it reads the Hugging Face cache layout:
``models--{org}--{name}/refs/<branch>`` holds a commit, ``snapshots/<commit>/`` the files, which
are symlinks into ``blobs/`` named by their sha256 (LFS files) or git sha1. The same code path
serves real models and the self-built reference trajectory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import constants as hf_constants

from trajectory.errors import TrajectoryError
from trajectory.hub.revisions import MAIN, Revision, order_revisions, unknown_revision_message

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from trajectory.hub.protocol import Source

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin")
# What a causal LM needs to load: weights, configs, tokenizer. Skips optimizer states, ONNX, etc.
# A revision's side data: how often its training data stated each fact, a table a trainer may publish beside
# its checkpoint (relation, subject, object, fact_count, subject_count; the reference trajectory does).
FREQUENCY_FILE = "fact_frequency.tsv"
TRAINER_STATE = "trainer_state.json"  # a checkpoint's training state as the Hugging Face Trainer writes it (global_step)
ALLOW_PATTERNS = ["*.safetensors", "*.json", "tokenizer*", "*.model", "merges.txt", "vocab.*", "revisions.txt", FREQUENCY_FILE]
BIN_PATTERNS = ["pytorch_model*.bin", "*.json", "tokenizer*", "*.model", "merges.txt", "vocab.*"]
# The cache keeps pull requests as refs/pr/N beside the branches: never a checkpoint of the model.
PULL_REQUEST_REF = re.compile(r"pr/\d+")


def repo_folder(cache_dir: Path, repo_id: str) -> Path:
    return Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def content_hash_from_file_hashes(file_hashes: dict[str, str]) -> str:
    """One hash for a revision's weights: sha256 over sorted ``path:blob-hash`` lines.

    The per-file hashes are the sha256 of each LFS weight file, which the Hub reports without a
    download and the cache uses as blob names, so identical weights give identical hashes.
    """
    lines = "".join(f"{name}:{digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def find_duplicates(content_hashes: dict[str, str | None]) -> list[list[str]]:
    """Groups (of two or more revision names) whose weights are byte-identical."""
    groups: dict[str, list[str]] = {}
    for name, digest in content_hashes.items():
        if digest:
            groups.setdefault(digest, []).append(name)
    return [names for names in groups.values() if len(names) > 1]


@dataclass
class RevisionSource:
    """The revisions of ``repo_id``, through the Hub or its cache in ``cache_dir``."""

    repo_id: str
    cache_dir: Path | None = None
    offline: bool | None = None
    pattern: re.Pattern | None = None  # the pipeline's own revision-name pattern (trajectory.hub.revisions)
    _preexisting_commits: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir or hf_constants.HF_HUB_CACHE).expanduser()
        if self.offline is None:
            self.offline = bool(hf_constants.HF_HUB_OFFLINE)
        # Snapshots present before we started are the user's: never deleted by release().
        snapshots = self.folder / "snapshots"
        if snapshots.is_dir():
            self._preexisting_commits = {p.name for p in snapshots.iterdir()}

    @property
    def folder(self) -> Path:
        return repo_folder(self.cache_dir, self.repo_id)

    # -- listing -----------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.repo_id

    def pending(self) -> list[str]:
        """A repository's revisions are complete when listed."""
        return []

    def list_revisions(self) -> list[Revision]:
        """All branches, ordered by step with ``main`` last."""
        if not self.offline:
            try:
                from huggingface_hub import HfApi

                refs = HfApi().list_repo_refs(self.repo_id)
                return order_revisions([b.name for b in refs.branches], self.pattern)
            except Exception as err:  # network down, no such repo: the cache may still know it
                cached = self._cached_branch_names()
                if not cached:
                    raise TrajectoryError(f"cannot list revisions of {self.repo_id}: {_one_line(err)}") from None
                log.warning("listing %s from the local cache (%s)", self.repo_id, _one_line(err))
                return order_revisions(cached, self.pattern)
        cached = self._cached_branch_names()
        if not cached:
            raise TrajectoryError(
                f"{self.repo_id}: no revisions in the cache at {self.cache_dir} (offline); download them first or unset HF_HUB_OFFLINE"
            )
        return order_revisions(cached, self.pattern)

    def _cached_branch_names(self) -> list[str]:
        """The cache's branches, and those that main's ``revisions.txt`` lists (OLMo publishes one)."""
        refs = self.folder / "refs"
        if not refs.is_dir():
            return []
        names = [p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file() and not p.name.startswith(".")]
        names = [name for name in names if not PULL_REQUEST_REF.fullmatch(name)]
        main = self.cached_commit(MAIN)
        listed = self.folder / "snapshots" / main / "revisions.txt" if main else None
        if listed is not None and listed.is_file():
            names += [line.strip() for line in listed.read_text().splitlines() if line.strip() and not line.startswith("#")]
        return list(dict.fromkeys(names))

    def resolve(self, name: str) -> Revision:
        revisions = self.list_revisions()
        for revision in revisions:
            if revision.name == name:
                return revision
        raise TrajectoryError(unknown_revision_message(name, [r.name for r in revisions]))

    # -- cache state -------------------------------------------------------------------------

    def cached_commit(self, revision: str) -> str | None:
        ref = self.folder / "refs" / revision
        return ref.read_text().strip() if ref.is_file() else None

    def snapshot_dir(self, revision: str) -> Path | None:
        commit = self.cached_commit(revision)
        path = self.folder / "snapshots" / commit if commit else None
        return path if path is not None and path.is_dir() else None

    def side_file(self, revision: str, name: str) -> Path | None:
        """A file published beside the revision's weights (e.g. :data:`FREQUENCY_FILE`), when it is on disk."""
        snapshot = self.snapshot_dir(revision)
        path = snapshot / name if snapshot is not None else None
        return path if path is not None and path.is_file() else None

    def is_on_disk(self, revision: str) -> bool:
        snapshot = self.snapshot_dir(revision)
        return snapshot is not None and any(is_weight_file(p) and p.exists() for p in snapshot.rglob("*"))

    def content_hash(self, revision: str) -> str | None:
        """Hash of the revision's weights; from the cache when on disk, else from the Hub's metadata."""
        snapshot = self.snapshot_dir(revision)
        if snapshot is not None and self.is_on_disk(revision):
            return content_hash_from_file_hashes(
                {p.relative_to(snapshot).as_posix(): _blob_hash(p) for p in snapshot.rglob("*") if is_weight_file(p)}
            )
        if self.offline:
            return None
        from huggingface_hub import HfApi

        info = HfApi().model_info(self.repo_id, revision=revision, files_metadata=True)
        hashes = {s.rfilename: s.lfs.sha256 for s in info.siblings or [] if s.lfs and _is_weight_name(s.rfilename)}
        return content_hash_from_file_hashes(hashes) if hashes else None

    def download_bytes(self, revision: str) -> int:
        """Bytes a download of the revision's weights would write: 0 when it is on disk here, else the
        Hub's file sizes (0 offline, where nothing can be downloaded)."""
        if self.is_on_disk(revision) or self.offline:
            return 0
        from huggingface_hub import HfApi

        try:
            info = HfApi().model_info(self.repo_id, revision=revision, files_metadata=True)
        except Exception as err:
            raise TrajectoryError(f"cannot size {self.repo_id}@{revision} on the Hub: {_one_line(err)}") from None
        weights = [s.size or 0 for s in info.siblings or [] if _is_weight_name(s.rfilename)]
        safetensors = [s.size or 0 for s in info.siblings or [] if s.rfilename.endswith(".safetensors")]
        return sum(safetensors or weights)  # download() takes the .bin files only where there is no safetensors

    # -- download / load / release ---------------------------------------------------------

    def download(self, revision: str) -> Path:
        """Fetch weights, configs and tokenizer of one revision (a no-op when already cached)."""
        from huggingface_hub import snapshot_download

        try:
            path = Path(
                snapshot_download(
                    self.repo_id,
                    revision=revision,
                    cache_dir=self.cache_dir,
                    allow_patterns=ALLOW_PATTERNS,
                    local_files_only=bool(self.offline),
                )
            )
            if not any(is_weight_file(p) for p in path.rglob("*")):
                path = Path(
                    snapshot_download(
                        self.repo_id,
                        revision=revision,
                        cache_dir=self.cache_dir,
                        allow_patterns=BIN_PATTERNS,
                        local_files_only=bool(self.offline),
                    )
                )
        except OSError as err:
            if getattr(err, "errno", None) == 28:
                raise TrajectoryError(f"disk full while downloading {self.repo_id}@{revision}; free space in {self.cache_dir}") from None
            raise TrajectoryError(f"cannot download {self.repo_id}@{revision}: {_one_line(err)}") from None
        except Exception as err:
            raise TrajectoryError(f"cannot download {self.repo_id}@{revision}: {_one_line(err)}") from None
        return path

    def load(self, revision: str, *, dtype: str = "float32", device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """``(model, tokenizer)`` through ``from_pretrained(repo, revision=...)``, in eval mode."""
        common = dict(revision=revision, cache_dir=self.cache_dir, local_files_only=bool(self.offline))
        return load_checked(self.repo_id, self.repo_id, common, f"{self.repo_id}@{revision}", dtype, device)

    def was_cached_before(self, revision: str) -> bool:
        return self.cached_commit(revision) in self._preexisting_commits

    def release(self, revision: str) -> bool:
        """Delete a revision we downloaded from the cache; never one the user had before."""
        commit = self.cached_commit(revision)
        if commit is None or commit in self._preexisting_commits:
            return False
        from huggingface_hub import scan_cache_dir

        try:
            scan_cache_dir(self.cache_dir).delete_revisions(commit).execute()
        except Exception as err:  # a failed clean-up must not fail the analysis
            log.warning("could not release %s@%s from the cache: %s", self.repo_id, revision, _one_line(err))
            return False
        return True


def load_checked(
    model_from: str | Path, tokenizer_from: str | Path, common: dict, where: str, dtype: str, device: str
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """``(model, tokenizer)`` from a Hub repository or a local folder, in eval mode on ``device``; a checkpoint
    that is not whole (a missing, unexpected or mis-shaped tensor, non-finite weights, no usable tokenizer)
    is refused with one line naming ``where`` and the tensors, never loaded with random stand-ins."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the ingest shows its own progress
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_from, **common)
    except Exception as err:
        raise TrajectoryError(f"cannot load the tokenizer of {where}: {_one_line(err)}") from None
    check_tokenizer(tokenizer, where)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report goes to stderr; check_loading_info says it in one line
    try:
        # mis-shaped tensors reported in the loading info (below) instead of a message pointing at a silenced report
        model, info = AutoModelForCausalLM.from_pretrained(
            model_from, dtype=getattr(torch, dtype), output_loading_info=True, ignore_mismatched_sizes=True, **common
        )
    except Exception as err:
        raise TrajectoryError(f"cannot load {where}: {_one_line(err)}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    # transformers fills a missing tensor with random values and only says so on stderr: refuse instead.
    check_loading_info(info, where)
    model = model.to(device).eval()
    check_finite_weights(model, where)
    return model, tokenizer


def check_tokenizer(tokenizer: PreTrainedTokenizerBase, where: str) -> None:
    """A tokenizer that can locate subjects (a fast one, with a vocabulary), or one line saying which files are missing."""
    encodes = getattr(tokenizer, "is_fast", False) and tokenizer("The answer is", add_special_tokens=False)["input_ids"]
    if not encodes:  # without its files transformers builds an empty tokenizer that encodes every text to nothing
        raise TrajectoryError(
            f"{where} has no usable tokenizer (tokenizer.json, or vocab and merges files, missing or empty); "
            "a fast tokenizer is needed to locate subjects and answers"
        )


def check_loading_info(info: dict, where: str) -> None:
    """Missing, unexpected or mis-shaped tensors of a checkpoint: one error naming them."""
    problems = []
    for kind, keys in (("missing", info.get("missing_keys")), ("unexpected", info.get("unexpected_keys"))):
        if keys:
            problems.append(f"{kind} {_some(sorted(keys))}")
    mismatched = info.get("mismatched_keys") or ()
    if mismatched:
        problems.append("mis-shaped " + _some(sorted(f"{k} ({tuple(a)} in the checkpoint, {tuple(b)} expected)" for k, a, b in mismatched)))
    if info.get("error_msgs"):
        problems.append(_one_line(Exception(info["error_msgs"][0])).removeprefix("Exception: "))
    if problems:
        raise TrajectoryError(f"{where} is not a complete checkpoint: {'; '.join(problems)}")


def check_finite_weights(model: PreTrainedModel, where: str) -> None:
    """Every parameter and buffer finite, checked on the device with one synchronisation."""
    import torch

    named = [(n, t) for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_floating_point() and t.numel()]
    if not named:
        return
    finite = torch.stack([torch.isfinite(t).all() for _, t in named]).cpu()
    bad = [name for (name, _), ok in zip(named, finite.tolist()) if not ok]
    if bad:
        raise TrajectoryError(f"{where} has non-finite weights (NaN or inf) in {_some(bad)}; the checkpoint is broken")


def _some(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _is_weight_name(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) and not name.endswith(("training_args.bin", "optimizer.bin"))


def is_weight_file(path: Path) -> bool:
    return _is_weight_name(path.name)


def _blob_hash(path: Path) -> str:
    """The blob's name when the snapshot entry is a cache symlink (its sha256), else hash the bytes."""
    if path.is_symlink():
        return Path(os.readlink(path)).name
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def revision_step(source: Source, revision: Revision) -> int | None:
    """The training step of a revision whose name carries none (``main``), where it can be known: the
    ``global_step`` of the ``trainer_state.json`` published beside its weights, else the step of the last numbered
    revision when the two hold the same weights (a branch tip that repeats its last checkpoint, as Pythia's does);
    None otherwise: never guessed. ``source``: a Hub or run-folder source (side_file, content_hash, list_revisions)."""
    if revision.step is not None:
        return revision.step
    state = source.side_file(revision.name, TRAINER_STATE)
    if state is not None:
        try:
            step = json.loads(state.read_text(encoding="utf-8")).get("global_step")
        except (OSError, ValueError, AttributeError):
            step = None
        if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
            return step
    numbered = [r for r in source.list_revisions() if r.step is not None]
    if numbered:
        last = max(numbered, key=lambda r: (r.stage or 0, r.ingredient or 0, r.step))
        mine = source.content_hash(revision.name)
        if mine is not None and mine == source.content_hash(last.name):
            return last.step
    return None
