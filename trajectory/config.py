"""Pipeline declarations: ``pipelines/*.toml`` read into :class:`PipelineConfig`, one frozen section per TOML table.

Each section (:class:`ModelSection` for [model], :class:`AblationSection` for [ablation], ...) holds its settings'
only defaults and checks its own values; cross-section rules sit in :class:`PipelineConfig`. A TOML key maps to its
section's field by name (or by the field's ``key``), its type comes from the field's annotation, and the CLI changes
settings through the same path (:meth:`PipelineConfig.with_overrides` with TOML keys). τ, θ and the FFN
renormalisation may be lists: a sweep, one analysis per combination from one forward pass per revision. Unknown keys,
wrong types and out-of-range values are errors that name the file and the key. This module is the ground floor: the
measures' settings take their defaults from its sections; it imports no measure (only the graft names' grammar,
trajectory.grafting.configs, where a pipeline names grafts).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from trajectory.errors import TrajectoryError
from trajectory.graft_names import GraftConfig, default_configs
from trajectory.paths import PIPELINES_DIR, reference_hub_cache
from trajectory.seeds import seeded_repo

log = logging.getLogger(__name__)
DEFAULT_PIPELINE = "reference"
DTYPES = ("float32", "bfloat16", "float16")
SUITE_ARCHITECTURES = ("olmo", "gpt-neox")  # what `trajectory suite build --arch` trains
SUITE_PRESETS = ("full", "small", "v1", "v2")  # the references trajectory.suite.recipe.PRESETS builds
# METHOD.md §3: per position (the definition, and the study's own code), or as llm-transparency-tool's released helper.
FFN_RENORMALISATIONS = ("per_position", "llm-tt")
DEPRECATED_FFN_NAMES = {"study": "llm-tt"}  # the first name of "llm-tt", which was never what the study's code did
EXECUTORS = ("in-process", "ray")
MIN_TEST_DRAWS = 19  # the role-causality test's fewest controls: below, neither its calibration nor a rank p ≤ 0.05 is possible


def _key(name: str, parse: Callable[[Any, str], Any] | None = None, kinds: tuple[type, ...] | None = None) -> dict[str, Any]:
    """A setting read from the TOML key ``name`` of its section (``parse(value, where)`` converts it; ``kinds``
    overrides the TOML types accepted, which otherwise follow the field's annotation)."""
    return {"key": name, "parse": parse, "kinds": kinds}


def _parse_path(value: Any, where: str) -> Path:
    return Path(os.path.expandvars(str(value))).expanduser()


def _parse_names(value: Any, where: str) -> tuple[str, ...]:
    return tuple(value)


def _parse_select(value: Any, where: str) -> str:
    return ",".join(value) if isinstance(value, list) else value


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise TrajectoryError(message)


def _positive(section: object, prefix: str, *names: str) -> None:
    for name in names:
        value = getattr(section, name)
        _check(value is None or value > 0, f"{prefix}.{name} must be positive, got {value!r}")


def _one_of(value: str, allowed: tuple[str, ...], key: str) -> None:
    _check(value in allowed, f"{key} must be one of {', '.join(allowed)}, got {value!r}")


@dataclass(frozen=True)
class ModelSection:
    """[model]: what is read: a Hub repository, the self-built reference (``suite``), or a run folder (``path``)."""

    repo_id: str | None = field(default=None, metadata=_key("repo"))
    suite: str | None = None  # "full" / "small" / "v1" / "v2": the self-built reference trajectory, built on first use
    suite_arch: str = "olmo"  # the suite's architecture: "olmo" or "gpt-neox" (Pythia's)
    suite_seed: int = 0  # another seed of the suite: its own model, <repo>-seed<N> (trajectory.suite.recipe.seeded)
    cache_dir: Path | None = field(default=None, metadata=_key("cache_dir", _parse_path))  # None: HF's default ($TRAJECTORY_HOME/hub for a suite)
    path: Path | None = field(default=None, metadata=_key("path", _parse_path))  # a training run's folder of checkpoint folders
    settle_s: float = 30.0  # a run's checkpoint folder without trainer_state.json is complete once unchanged this long
    offline: bool | None = None  # None: follow HF_HUB_OFFLINE
    dtype: str = "float32"
    device: str = "auto"

    def __post_init__(self) -> None:
        _check(not (self.path and self.suite), "model.path (a run folder) and model.suite exclude each other")
        _check(
            self.suite_arch in SUITE_ARCHITECTURES, f"model.suite_arch must be {' or '.join(map(repr, SUITE_ARCHITECTURES))}, got {self.suite_arch!r}"
        )
        _check(self.suite_seed >= 0, f"model.suite_seed must be 0 or more, got {self.suite_seed}")
        _one_of(self.dtype, DTYPES, "model.dtype")
        check_device_name(self.device, "model.device")
        _positive(self, "model", "settle_s")


@dataclass(frozen=True)
class RevisionsSection:
    """[revisions]: which revisions, see trajectory.hub.revisions.select_revisions."""

    select: str = field(default="all", metadata=_key("select", _parse_select, (str, list)))
    exclude: tuple[str, ...] = field(default=(), metadata=_key("exclude", _parse_names))
    pattern: str | None = None  # a regex with named groups step (stage, ingredient, tokens) for other names

    def __post_init__(self) -> None:
        _check(
            bool([item for item in self.select.split(",") if item.strip()]),
            "revisions.select is empty; use 'all', names, or a step range like 5000:200000:5000",
        )
        if self.pattern is not None:
            from trajectory.hub.revisions import revision_pattern

            revision_pattern(self.pattern, "revisions.pattern")


@dataclass(frozen=True)
class ProbeSection:
    """[probe]: the probe set (``builtin``, ``paraphrases`` or a file) and its name in the store."""

    facts: str = "builtin"
    name: str | None = None  # default: the file's stem, or facts_160


def _parse_thresholds(value: Any, where: str) -> tuple[float, ...]:
    return parse_fractions(value, where)


def _parse_renormalisations(value: Any, where: str) -> tuple[str, ...]:
    return parse_choices(value, FFN_RENORMALISATIONS, where, DEPRECATED_FFN_NAMES)


@dataclass(frozen=True)
class IfrSection:
    """[ifr]: the IFR stage (METHOD.md §3). τ and the FFN renormalisation may be lists: one analysis each."""

    thresholds: tuple[float, ...] = field(default=(0.01,), metadata=_key("threshold", _parse_thresholds, (float, int, list)))
    ffn_renormalisations: tuple[str, ...] = field(
        default=("per_position",), metadata=_key("ffn_renormalisation", _parse_renormalisations, (str, list))
    )
    batch_size: int = 32  # at most this many prompts per forward pass (fewer when the memory budget says so)
    memory_gb: float | None = None  # the trace's memory budget; None: 80 % of free CUDA memory / half the available RAM

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, f"ifr.batch_size must be at least 1, got {self.batch_size}")
        _positive(self, "ifr", "memory_gb")


@dataclass(frozen=True)
class RolesSection:
    """[roles]: θ (METHOD.md §4); a list gives one analysis each."""

    thetas: tuple[float, ...] = field(default=(0.1,), metadata=_key("theta", _parse_thresholds, (float, int, list)))


@dataclass(frozen=True)
class CacheSection:
    keep_revisions: int = 0  # downloaded revisions kept on disk after processing (user-cached ones are never deleted)

    def __post_init__(self) -> None:
        _check(self.keep_revisions >= 0, f"cache.keep_revisions must be 0 or more, got {self.keep_revisions}")


@dataclass(frozen=True)
class StoreSection:
    circuits: bool = False  # per-root circuits table; large for 7B models
    routes: bool = True  # each fact's route graph at its last prompt token (table routes; the routes page)


@dataclass(frozen=True)
class FinetuneSection:
    """[extractive.finetune]: the fine-tuning step between W and W′ (METHOD.md §6)."""

    optimizer: str = "adam"
    learning_rate: float = 3e-6
    epochs: int = 8
    batch_size: int = 8
    train: str = "attention_mlp"

    def __post_init__(self) -> None:
        _one_of(self.optimizer, ("adam", "sgd"), "extractive.finetune.optimizer")
        _one_of(self.train, ("attention_mlp", "early", "late"), "extractive.finetune.train")
        _positive(self, "extractive.finetune", "learning_rate", "epochs", "batch_size")


@dataclass(frozen=True)
class ExtractiveSection:
    """[extractive]: the extractive stage (METHOD.md §6, trajectory.extractive); off unless turned on."""

    FLAG_HELP: ClassVar[str] = (
        "run the extractive-structures stage (default: the pipeline's extractive.enabled)"  # ingest --extractive / --no-extractive
    )

    enabled: bool = False
    counterfactuals: int = 10
    per_fact: bool = False
    batch_size: int = 32
    ocr: str = "world"  # world | reference | none
    finetune: FinetuneSection = field(default_factory=FinetuneSection)

    def __post_init__(self) -> None:
        _one_of(self.ocr, ("world", "reference", "none"), "extractive.ocr")
        _positive(self, "extractive", "counterfactuals", "batch_size")


def _parse_graft_configs(value: Any, where: str) -> tuple[str, ...]:
    return parse_graft_configs(value, where)


@dataclass(frozen=True)
class GraftingSection:
    """[grafting]: the grafting stage (METHOD.md §6, trajectory.grafting); off unless turned on."""

    FLAG_HELP: ClassVar[str] = (
        "run the weight-grafting stage on consecutive revisions (default: the pipeline's grafting.enabled)"  # ingest --grafting / --no-grafting
    )

    enabled: bool = False
    configs: tuple[str, ...] | None = field(default=None, metadata=_key("configs", _parse_graft_configs, (list,)))  # None: the default set
    batch_size: int = 32

    def __post_init__(self) -> None:
        _positive(self, "grafting", "batch_size")


@dataclass(frozen=True)
class AblationSection:
    """[ablation]: the ablation stage (issue #16, trajectory.ablation); it reads the IFR stage's circuits, so it
    needs store.circuits."""

    FLAG_HELP: ClassVar[str] = (
        "run the ablation stage: causal checks of circuits and roles (default: the pipeline's ablation.enabled)"  # ingest --ablation / --no-ablation
    )

    enabled: bool = False
    mode: str = "mean"
    draws: int = 3
    facts_per_relation: int = 0  # the role × relation matrix on this many held-out facts per relation (0: all)
    seed: int = 0
    # The role-causality test (issue #36): each role set against this many controls on its own held-out facts,
    # on every this-many-th revision and the last (0 draws: no test).
    test_draws: int = 39
    test_every: int = 4
    batch_size: int = 256  # (configuration, prompt) rows per forward pass
    topk: bool = True  # the threshold-free top-k faithfulness curve of every fact

    def __post_init__(self) -> None:
        _one_of(self.mode, ("mean", "zero"), "ablation.mode")
        _positive(self, "ablation", "draws", "batch_size", "test_every")
        _check(self.facts_per_relation >= 0, f"ablation.facts_per_relation must not be negative, got {self.facts_per_relation!r}")
        _check(
            not 0 < self.test_draws < MIN_TEST_DRAWS and self.test_draws >= 0,
            f"ablation.test_draws must be 0 (no test) or at least {MIN_TEST_DRAWS} (fewer cannot check the test's calibration), "
            f"got {self.test_draws!r}",
        )


@dataclass(frozen=True)
class EffectsSection:
    """[effects]: the component-effects stage (METHOD.md §9, trajectory.effects): causal ground truth."""

    FLAG_HELP: ClassVar[str] = (
        "run the component-effects stage: every head and FFN ablated alone on every fact, the causal ground truth for circuits and roles (default: the pipeline's effects.enabled)"  # ingest --effects / --no-effects
    )

    enabled: bool = False
    method: str = "both"  # exhaustive | atp | both
    mode: str = "mean"  # mean | zero, as the ablation stage's
    kappa: float = 0.1  # causal circuit: components costing >= kappa of a fact's clean-minus-none gap
    batch_size: int = 256  # (configuration, prompt) rows per forward pass
    every: int = 1  # on every this-many-th selected revision (and always the first and the last)

    def __post_init__(self) -> None:
        _one_of(self.method, ("exhaustive", "atp", "both"), "effects.method")
        _one_of(self.mode, ("mean", "zero"), "effects.mode")
        _positive(self, "effects", "batch_size", "every")
        _check(0 < self.kappa <= 1, f"effects.kappa must be in (0, 1], got {self.kappa!r}")


@dataclass(frozen=True)
class IntervalsSection:
    """[intervals]: intervals and tests (trajectory.pipeline.intervals), computed at the end of every ingest."""

    resamples: int = 2000  # bootstrap draws of shares, ratios and differences
    role_resamples: int = 2000  # of roles, IoU and transitions (each re-classifies every revision)
    level: float = 0.95

    def __post_init__(self) -> None:
        _positive(self, "intervals", "resamples", "role_resamples")
        _check(0 < self.level < 1, f"intervals.level must be in (0, 1), got {self.level}")


@dataclass(frozen=True)
class FrequencySection:
    """[frequency]: a fact's count at the last revision >= high is high, < low is low, else medium."""

    high: int = 300
    low: int = 100

    def __post_init__(self) -> None:
        _check(self.high >= 0, f"frequency.high must not be negative, got {self.high!r}")
        _check(self.low >= 0, f"frequency.low must not be negative, got {self.low!r}")
        _check(self.low <= self.high, f"frequency.low ({self.low}) must not exceed frequency.high ({self.high})")


@dataclass(frozen=True)
class ExecutorSection:
    """[executor]: where the revisions run (trajectory.pipeline.ray_executor): in this process, or one Ray task each."""

    kind: str = "in-process"
    address: str | None = None  # None: a local cluster on 127.0.0.1, stopped at the end
    gpus_per_task: float | None = None  # None: 1 on a cluster with GPUs, else 0; fractions share a GPU
    cpus_per_task: float = 1.0
    memory_gb_per_task: float | None = None
    max_in_flight: int | None = None  # None: as many tasks as the cluster runs at once
    max_retries: int = 3  # retries of a task whose worker or node died
    scratch: str | None = None  # node-local folder for downloads (None: $TRAJECTORY_SCRATCH, else the temp folder)

    def __post_init__(self) -> None:
        _one_of(self.kind, EXECUTORS, "executor.kind")
        for name in ("gpus_per_task", "cpus_per_task", "memory_gb_per_task", "max_in_flight", "max_retries"):
            value = getattr(self, name)
            _check(
                value is None or not (value < 0 or (value == 0 and name in ("memory_gb_per_task", "max_in_flight"))),
                f"executor.{name} must be positive, got {value!r}",
            )


@dataclass(frozen=True)
class PipelineConfig:
    """A pipeline: one section per TOML table, each with its defaults and its own checks (one default per setting).
    ``with_overrides({"ablation.enabled": False, ...})`` changes settings by their TOML keys (the CLI's one path)."""

    name: str
    model: ModelSection = field(default_factory=ModelSection)
    revisions: RevisionsSection = field(default_factory=RevisionsSection)
    probe: ProbeSection = field(default_factory=ProbeSection)
    ifr: IfrSection = field(default_factory=IfrSection)
    roles: RolesSection = field(default_factory=RolesSection)
    cache: CacheSection = field(default_factory=CacheSection)
    store: StoreSection = field(default_factory=StoreSection)
    extractive: ExtractiveSection = field(default_factory=ExtractiveSection)
    grafting: GraftingSection = field(default_factory=GraftingSection)
    ablation: AblationSection = field(default_factory=AblationSection)
    effects: EffectsSection = field(default_factory=EffectsSection)
    intervals: IntervalsSection = field(default_factory=IntervalsSection)
    frequency: FrequencySection = field(default_factory=FrequencySection)
    executor: ExecutorSection = field(default_factory=ExecutorSection)
    path: Path | None = field(default=None, metadata={"internal": True})  # the file it was read from

    def __post_init__(self) -> None:
        _check(bool(self.model.repo_id), "missing model.repo (or model.path, a training run's folder)")
        _check(
            not (self.ablation.enabled and not self.store.circuits),
            "the ablation stage reads the circuits table: set store.circuits = true (or ablation.enabled = false, --no-ablation)",
        )

    @property
    def repo_id(self) -> str:
        """The model's name in the store (model.repo; a run folder's own name, a seed's <repo>-seed<N>)."""
        return self.model.repo_id

    @property
    def selection(self) -> list[str]:
        return [self.revisions.select] + [f"-{name}" for name in self.revisions.exclude]

    def resolved_device(self) -> str:
        """The device to compute on; a device this machine does not have is an error, not a fallback."""
        import torch

        device = self.model.device
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        kind, _, index = device.partition(":")
        if kind == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                why = "this torch is built without CUDA" if not torch.backends.cuda.is_built() else "no CUDA GPU is visible"
                raise TrajectoryError(f"device {device!r}: {why}; use --device cpu (or auto)")
            if index and int(index) >= count:
                raise TrajectoryError(f"device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise TrajectoryError(f"device {device!r}: Apple's MPS is not available here; use --device cpu (or auto)")
        return device

    def with_overrides(self, overrides: dict[str, Any]) -> "PipelineConfig":
        """The pipeline with settings replaced by their TOML keys (``"ablation.draws"``; None where a setting may be
        None). Every changed section's checks run again."""
        return _with_values(self, overrides, str(self.path or self.name))

    def with_seed(self, seed: int) -> "PipelineConfig":
        """The pipeline on its suite built from another seed: that model, <repo>-seed<N>, in the same hub."""
        if not self.model.suite:
            raise TrajectoryError(f"--seed picks a seed of the self-built reference; pipeline {self.name!r} reads {self.repo_id}")
        if seed < 0:
            raise TrajectoryError(f"--seed must be 0 or more, got {seed}")
        return replace(self, model=replace(self.model, suite_seed=seed, repo_id=seeded_repo(self.repo_id, seed)))

    def settings(self) -> list[tuple[float, str, float]]:
        """Every (τ, FFN renormalisation, θ) the pipeline asks for: one analysis each."""
        return list(itertools.product(self.ifr.thresholds, self.ifr.ffn_renormalisations, self.roles.thetas))


def optional_stages() -> list[tuple[str, str]]:
    """(section, flag help) of each stage a pipeline turns on or off (its section has ``enabled`` and a FLAG_HELP):
    the ingest's --<stage> / --no-<stage> flags, made from here so that a new stage needs no CLI change."""
    return [(item.name, _section_type(item).FLAG_HELP) for item in fields(PipelineConfig) if hasattr(_section_type(item), "FLAG_HELP")]


def _section_type(item: Field) -> type:
    return typing.get_type_hints(PipelineConfig)[item.name]


def setting_keys(section: type = PipelineConfig, prefix: str = "") -> dict[str, tuple[type, str, Field]]:
    """Every TOML key of the pipeline -> (its section class, its field name, the field), in declaration order."""
    keys: dict[str, tuple[type, str, Field]] = {}
    hints = typing.get_type_hints(section)
    for item in fields(section):
        if item.metadata.get("internal"):
            continue
        key = prefix + item.metadata.get("key", item.name)
        if dataclasses.is_dataclass(hints[item.name]):
            keys.update(setting_keys(hints[item.name], key + "."))
        else:
            keys[key] = (section, item.name, item)
    return keys


def _toml_kinds(section: type, item: Field) -> tuple[type, ...]:
    """The TOML types a setting accepts: its key's ``kinds``, else its annotation's (a float takes an int, a Path a str)."""
    if item.metadata.get("kinds"):  # a list in TOML; a tuple from Python
        return item.metadata["kinds"] + ((tuple,) if list in item.metadata["kinds"] else ())
    hint = typing.get_type_hints(section)[item.name]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kinds = tuple(typing.get_origin(k) or k for k in (typing.get_args(hint) if union else (hint,)) if k is not type(None))
    kinds = tuple(k for kind in kinds for k in ((list, tuple) if kind is tuple else (kind,)))
    kinds = tuple(str if k is Path else k for k in kinds) + ((Path,) if Path in kinds else ())
    return kinds + ((int,) if float in kinds else ())


def _convert(section: type, item: Field, key: str, value: Any, where: str) -> Any:
    """A TOML (or CLI) value of ``key`` checked against its type and converted; an error names where and the key."""
    if value is None and type(None) in typing.get_args(typing.get_type_hints(section)[item.name]):  # X | None
        return None
    kinds = _toml_kinds(section, item)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise TrajectoryError(f"{where}: {key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    parse = item.metadata.get("parse")
    return parse(value, f"{where}: {key}") if parse else value


def _with_values(config: PipelineConfig, values: dict[str, Any], where: str) -> PipelineConfig:
    """``config`` with ``values`` (TOML key -> value) set, each checked and converted, then every section rebuilt."""
    keys = setting_keys()
    changed: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in keys:
            raise TrajectoryError(f"{where}: unknown key {key!r} (known: {', '.join(keys)})")
        section, name, item = keys[key]
        changed.setdefault(key.rpartition(".")[0], {})[name] = _convert(section, item, key, value, where)
    try:
        return _rebuilt(config, "", changed)
    except TrajectoryError as err:
        raise TrajectoryError(f"{where}: {err}") from None


def _rebuilt(section: Any, prefix: str, changed: dict[str, dict[str, Any]]) -> Any:
    """``section`` with its changed settings and rebuilt sub-sections (their checks run once each, innermost first)."""
    values = dict(changed.get(prefix.rstrip("."), {}))
    for item in fields(section):
        value = getattr(section, item.name)
        if dataclasses.is_dataclass(value):
            sub = prefix + item.metadata.get("key", item.name)
            if any(name == sub or name.startswith(sub + ".") for name in changed):
                values[item.name] = _rebuilt(value, sub + ".", changed)
    return replace(section, **values) if values else section


def check_device_name(device: str, where: str) -> None:
    """auto, cpu, cuda, cuda:N or mps: anything else (tpu, gpu, cuda:x) is an error naming where it came from."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise TrajectoryError(f"{where} must be auto, cpu, cuda, cuda:N or mps, got {device!r}")


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
    """A pipeline file (a path, or a name in ``pipelines/``) read into its sections: unknown keys, wrong types and
    values out of range are errors that name the file and the key."""
    path = resolve_pipeline_path(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TrajectoryError(f"{path}: invalid TOML: {err}") from None
    except UnicodeDecodeError:
        raise TrajectoryError(f"{path}: not UTF-8 text; save the pipeline as UTF-8") from None
    values = dict(_flatten(data))
    name = values.pop("name", path.stem)
    if not isinstance(name, str):
        raise TrajectoryError(f"{path}: name must be str, got {name!r}")
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    if "path" in model:  # a run folder: the run's name in the store, read offline
        values.setdefault("model.repo", f"run/{_parse_path(model['path'], '').resolve().name}" if isinstance(model["path"], str) else None)
        values.setdefault("model.offline", True)
    if "model.repo" not in values:
        raise TrajectoryError(f"{path}: missing model.repo (or model.path, a training run's folder)")
    suite = model.get("suite")
    if suite is not None:
        if suite not in SUITE_PRESETS:
            raise TrajectoryError(f"{path}: model.suite must be one of {', '.join(map(repr, SUITE_PRESETS))}, got {suite!r}")
        values.setdefault("model.offline", True)  # a self-built trajectory lives only in the local cache
    config = _with_values(PipelineConfig(name=name, model=ModelSection(repo_id="-"), path=path), values, str(path))
    if config.model.suite is not None:
        model_section = config.model
        if model_section.cache_dir is None:
            model_section = replace(model_section, cache_dir=reference_hub_cache())
        if model_section.suite_seed:
            model_section = replace(model_section, repo_id=seeded_repo(model_section.repo_id, model_section.suite_seed))
        config = replace(config, model=model_section)
    return config


def parse_graft_configs(names: Any, where: str) -> tuple[str, ...]:
    """Graft configuration names (``FE``, ``LT:o+ffn@last_quarter``, or ``default`` for the default set),
    checked and written canonically, without repeats."""
    expanded: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TrajectoryError(f"{where} must be a list of names, got {name!r}")
        if name == "default":
            expanded += [c.name for c in default_configs()]
            continue
        try:
            expanded.append(GraftConfig.parse(name).name)
        except TrajectoryError as err:
            raise TrajectoryError(f"{where}: {err}") from None
    if not expanded or "none" in expanded:
        raise TrajectoryError(f"{where} must name at least one graft ('none', the recipient alone, is always measured)")
    return tuple(dict.fromkeys(expanded))


def parse_fractions(value: Any, where: str) -> tuple[float, ...]:
    """τ or θ: one number or a list (TOML) or comma-separated text (CLI), each in [0, 1), without repeats."""

    def fraction(item: Any) -> float:
        try:
            if isinstance(item, bool):
                raise ValueError
            number = float(item)
        except (TypeError, ValueError):
            raise TrajectoryError(f"{where} must be a number or a list of numbers, got {item!r}") from None
        if not 0.0 <= number < 1.0:
            raise TrajectoryError(f"{where} must be in [0, 1), got {number:g}")
        return number

    return _parse_list(value, fraction, where)


def parse_choices(value: Any, allowed: tuple[str, ...], where: str, renamed: dict[str, str] | None = None) -> tuple[str, ...]:
    """One of ``allowed`` or several (a list, or comma-separated text), without repeats; a deprecated name
    in ``renamed`` is read as its new one, saying so once."""

    def choice(item: Any) -> str:
        if renamed and item in renamed:
            _say_renamed(item, renamed[item], where)
            item = renamed[item]
        if item not in allowed:
            raise TrajectoryError(f"{where} must be one of {', '.join(allowed)}, got {item!r}")
        return item

    return _parse_list(value, choice, where)


_SAID: set[str] = set()


def _say_renamed(old: str, new: str, where: str) -> None:
    if old not in _SAID:
        _SAID.add(old)
        log.warning(
            "%s: %r is the deprecated name of %r (llm-transparency-tool's FFN renormalisation; the study's own "
            "code renormalised per position): write %r",
            where,
            old,
            new,
            new,
        )


def _parse_list(value: Any, convert: Callable[[Any], Any], where: str) -> tuple:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    values: list = []
    for item in items:
        converted = convert(item.strip() if isinstance(item, str) else item)
        if converted not in values:
            values.append(converted)
    if not values:
        raise TrajectoryError(f"{where} is empty")
    return tuple(values)


def _flatten(data: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, full + ".")
        else:
            yield full, value
