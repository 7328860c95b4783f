"""Write a revision into the Hugging Face cache layout, so ``from_pretrained(repo, revision=...)``
loads it offline exactly as it would a downloaded one.

    models--{org}--{name}/blobs/<sha256 of LFS files | git sha1 of small files>
    models--{org}--{name}/snapshots/<commit>/<file> -> ../../blobs/<hash>
    models--{org}--{name}/refs/<branch>            (contains <commit>)

The ref is written last and atomically: a crash never leaves a branch pointing at half a snapshot.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from trajectory.hub.source import repo_folder

LFS_SUFFIXES = (".safetensors", ".bin")


def blob_hash(name: str, data: bytes) -> str:
    """sha256 for LFS files (as the Hub reports them), git's blob sha1 for the others."""
    if name.endswith(LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_snapshot(cache_dir: Path, repo_id: str, branch: str, files: dict[str, bytes]) -> str:
    """Store ``files`` (relative path -> bytes) as revision ``branch``; returns the commit hash."""
    folder = repo_folder(cache_dir, repo_id)
    hashes = {name: blob_hash(name, data) for name, data in files.items()}
    commit = hashlib.sha1((branch + "\n" + "".join(f"{n}:{h}\n" for n, h in sorted(hashes.items()))).encode()).hexdigest()
    blobs = folder / "blobs"
    snapshot = folder / "snapshots" / commit
    blobs.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        blob = blobs / hashes[name]
        if not blob.exists():
            _atomic_write(blob, data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    ref = folder / "refs" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(ref, commit.encode())
    return commit


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
