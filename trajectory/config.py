"""Pipeline declarations: ``pipelines/*.toml`` parsed into a frozen dataclass, strictly validated.

A pipeline names the model repository, the revision selection, the probe set, the IFR threshold τ,
the role threshold θ, dtype, batch size and device. Unknown keys and wrong types are errors that
name the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from trajectory.errors import TrajectoryError
from trajectory.paths import PIPELINES_DIR, reference_hub_cache

DEFAULT_PIPELINE = "reference"
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    repo_id: str
    revisions: str = "all"  # selection spec, see trajectory.hub.revisions.select_revisions
    exclude: tuple[str, ...] = ()
    suite: str | None = None  # "full" / "small": the self-built reference trajectory, built on first use
    cache_dir: Path | None = None  # None: the Hugging Face default cache (or $TRAJECTORY_HOME/hub for a suite)
    offline: bool | None = None  # None: follow HF_HUB_OFFLINE
    probe_set: str = "builtin"
    threshold: float = 0.01  # τ, METHOD.md §3
    theta: float = 0.1  # θ, METHOD.md §4
    dtype: str = "float32"
    device: str = "auto"
    batch_size: int = 32
    keep_revisions: int = 0  # downloaded revisions kept on disk after processing (user-cached ones are never deleted)
    store_circuits: bool = False  # per-root circuits table; large for 7B models
    path: Path | None = None

    @property
    def selection(self) -> list[str]:
        return [self.revisions] + [f"-{name}" for name in self.exclude]

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def with_overrides(self, **overrides) -> "PipelineConfig":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


# TOML table.key -> dataclass field, with the expected type.
_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "name": ("name", str),
    "model.repo": ("repo_id", str),
    "model.suite": ("suite", str),
    "model.cache_dir": ("cache_dir", str),
    "model.offline": ("offline", bool),
    "model.dtype": ("dtype", str),
    "model.device": ("device", str),
    "revisions.select": ("revisions", (str, list)),
    "revisions.exclude": ("exclude", list),
    "probe.facts": ("probe_set", str),
    "ifr.threshold": ("threshold", (float, int)),
    "ifr.batch_size": ("batch_size", int),
    "roles.theta": ("theta", (float, int)),
    "cache.keep_revisions": ("keep_revisions", int),
    "store.circuits": ("store_circuits", bool),
}


def resolve_pipeline_path(spec: str | Path | None) -> Path:
    """A path, or the name of a file in ``pipelines/`` (``reference`` -> ``pipelines/reference.toml``)."""
    spec = spec or DEFAULT_PIPELINE
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    candidate = PIPELINES_DIR / f"{spec}.toml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in PIPELINES_DIR.glob("*.toml")))
    raise TrajectoryError(f"pipeline {str(spec)!r} not found (a .toml path, or one of: {known})")


def load_pipeline(spec: str | Path | None = None) -> PipelineConfig:
    path = resolve_pipeline_path(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TrajectoryError(f"{path}: invalid TOML: {err}") from None
    values: dict = {}
    for key, value in _flatten(data):
        if key not in _KEYS:
            raise TrajectoryError(f"{path}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        field_name, expected = _KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            raise TrajectoryError(f"{path}: {key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
        values[field_name] = value
    if "repo_id" not in values:
        raise TrajectoryError(f"{path}: missing model.repo")
    if isinstance(values.get("revisions"), list):
        values["revisions"] = ",".join(values["revisions"])
    values["exclude"] = tuple(values.get("exclude", ()))
    values.setdefault("name", path.stem)
    if values.get("suite") is not None and values["suite"] not in ("full", "small"):
        raise TrajectoryError(f"{path}: model.suite must be 'full' or 'small', got {values['suite']!r}")
    if values.get("dtype", "float32") not in DTYPES:
        raise TrajectoryError(f"{path}: model.dtype must be one of {', '.join(DTYPES)}, got {values['dtype']!r}")
    if "cache_dir" in values:
        values["cache_dir"] = Path(values["cache_dir"]).expanduser()
    elif values.get("suite"):
        values["cache_dir"] = reference_hub_cache()
    if values.get("suite"):
        values.setdefault("offline", True)  # a self-built trajectory lives only in the local cache
    for key in ("threshold", "theta"):
        if key in values:
            values[key] = float(values[key])
            if not 0.0 <= values[key] < 1.0:
                raise TrajectoryError(f"{path}: {key} must be in [0, 1), got {values[key]}")
    if values.get("batch_size", 1) < 1:
        raise TrajectoryError(f"{path}: ifr.batch_size must be at least 1")
    return PipelineConfig(path=path, **values)


def _flatten(data: dict, prefix: str = ""):
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, full + ".")
        else:
            yield full, value

