"""The Hugging Face cache layout: offline listing, loading, content hashes, release."""

import os

import pytest
import torch

from trajectory.errors import TrajectoryError
from trajectory.hub.cache_layout import write_snapshot
from trajectory.hub.source import RevisionSource, content_hash_from_file_hashes, find_duplicates, repo_folder

REPO = "org/model"


def _weights(value: float) -> bytes:
    from safetensors.torch import save

    return save({"w": torch.full((4,), value)})


@pytest.fixture
def cache(tmp_path):
    for name, value in [("step10-tokens1K", 1.0), ("step20-tokens2K", 2.0), ("main", 2.0)]:
        write_snapshot(tmp_path, REPO, name, {"model.safetensors": _weights(value), "config.json": b"{}"})
    return tmp_path


def test_layout_matches_huggingface(cache):
    folder = repo_folder(cache, REPO)
    assert folder.name == "models--org--model"
    commit = (folder / "refs" / "main").read_text()
    entry = folder / "snapshots" / commit / "model.safetensors"
    assert entry.is_symlink() and (folder / "blobs" / os.readlink(entry).split("/")[-1]).is_file()
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(REPO, "model.safetensors", cache_dir=cache, revision="step10-tokens1K")
    assert found is not None and os.path.realpath(found).startswith(str(folder / "blobs"))


def test_offline_listing_and_resolution(cache):
    source = RevisionSource(REPO, cache_dir=cache, offline=True)
    assert [r.name for r in source.list_revisions()] == ["step10-tokens1K", "step20-tokens2K", "main"]
    assert source.is_on_disk("main")
    with pytest.raises(TrajectoryError, match="nearest: step10-tokens1K"):
        source.resolve("step10-tokens1")
    with pytest.raises(TrajectoryError, match="no revisions in the cache"):
        RevisionSource("org/absent", cache_dir=cache, offline=True).list_revisions()


def test_content_hash_detects_identical_weights(cache):
    source = RevisionSource(REPO, cache_dir=cache, offline=True)
    hashes = {r.name: source.content_hash(r.name) for r in source.list_revisions()}
    assert hashes["step20-tokens2K"] == hashes["main"] != hashes["step10-tokens1K"]
    assert find_duplicates(hashes) == [["step20-tokens2K", "main"]]
    # The same recipe the Hub's reported LFS sha256 values would give.
    import hashlib

    expected = content_hash_from_file_hashes({"model.safetensors": hashlib.sha256(_weights(1.0)).hexdigest()})
    assert hashes["step10-tokens1K"] == expected


def test_release_never_deletes_what_the_user_had(cache):
    source = RevisionSource(REPO, cache_dir=cache, offline=True)
    assert not source.release("step10-tokens1K")  # cached before the source was opened
    assert source.is_on_disk("step10-tokens1K")
    write_snapshot(cache, REPO, "step30-tokens3K", {"model.safetensors": _weights(3.0), "config.json": b"{}"})
    assert source.release("step30-tokens3K")  # appeared during this run: ours to release
    assert not source.is_on_disk("step30-tokens3K")
    assert source.is_on_disk("step10-tokens1K") and source.is_on_disk("main")
