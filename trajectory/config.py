"""Pipeline declarations: ``pipelines/*.toml`` parsed into a frozen dataclass, strictly validated.

A pipeline names the model repository, the revision selection, the probe set, the IFR threshold τ,
the role threshold θ, the FFN renormalisation, dtype, batch size and device, and whether (and how) the
extractive stage runs ([extractive], [extractive.finetune]), the ablation stage ([ablation]) and the
frequency buckets ([frequency]). τ, θ and the FFN
renormalisation may be lists: a sweep, one analysis per combination from one forward pass per revision.
Unknown keys, wrong types and out-of-range values are errors that name the file and the key.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from trajectory.errors import TrajectoryError
from trajectory.paths import PIPELINES_DIR, reference_hub_cache
from trajectory.seeds import seeded_repo

log = logging.getLogger(__name__)
DEFAULT_PIPELINE = "reference"
DTYPES = ("float32", "bfloat16", "float16")
SUITE_ARCHITECTURES = ("olmo", "gpt-neox")  # what `trajectory suite build --arch` trains
# METHOD.md §3: per position (the definition, and the study's own code), or as llm-transparency-tool's released helper.
FFN_RENORMALISATIONS = ("per_position", "llm-tt")
DEPRECATED_FFN_NAMES = {"study": "llm-tt"}  # the first name of "llm-tt", which was never what the study's code did
EXECUTORS = ("in-process", "ray")
MIN_TEST_DRAWS = 19  # the role-causality test's fewest controls: below, neither its calibration nor a rank p ≤ 0.05 is possible


@dataclass(frozen=True)
class RaySettings:
    """What the Ray executor (trajectory.pipeline.ray_executor) needs of a pipeline."""

    address: str | None = None  # None: a local cluster on 127.0.0.1, stopped at the end
    gpus_per_task: float | None = None  # None: 1 on a cluster with GPUs, else 0
    cpus_per_task: float = 1.0
    memory_gb_per_task: float | None = None
    max_in_flight: int | None = None  # None: as many as the cluster runs at once
    max_retries: int = 3
    scratch: str | None = None  # None: $TRAJECTORY_SCRATCH, else the node's temp folder


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    repo_id: str
    revisions: str = "all"  # selection spec, see trajectory.hub.revisions.select_revisions
    exclude: tuple[str, ...] = ()
    revision_pattern: str | None = None  # a regex with named groups step (stage, ingredient, tokens) for other names
    suite: str | None = None  # "full" / "small" / "v1": the self-built reference trajectory, built on first use
    suite_arch: str = "olmo"  # the suite's architecture: "olmo" or "gpt-neox" (Pythia's)
    suite_seed: int = 0  # another seed of the suite: its own model, <repo>-seed<N> (trajectory.suite.recipe.seeded)
    cache_dir: Path | None = None  # None: the Hugging Face default cache (or $TRAJECTORY_HOME/hub for a suite)
    run_path: Path | None = None  # a training run's folder of checkpoint folders instead of a Hub repository
    settle_s: float = 30.0  # a run's checkpoint folder without trainer_state.json is complete once unchanged this long
    offline: bool | None = None  # None: follow HF_HUB_OFFLINE
    probe_set: str = "builtin"
    probe_name: str | None = None  # the probe set's name in the store (default: the file's stem, or facts_160)
    thresholds: tuple[float, ...] = (0.01,)  # τ, METHOD.md §3
    thetas: tuple[float, ...] = (0.1,)  # θ, METHOD.md §4
    ffn_renormalisations: tuple[str, ...] = ("per_position",)  # METHOD.md §3
    dtype: str = "float32"
    device: str = "auto"
    batch_size: int = 32  # at most this many prompts per forward pass (fewer when the memory budget says so)
    memory_gb: float | None = None  # the trace's memory budget; None: 80 % of free CUDA memory / half the available RAM
    keep_revisions: int = 0  # downloaded revisions kept on disk after processing (user-cached ones are never deleted)
    store_circuits: bool = False  # per-root circuits table; large for 7B models
    store_routes: bool = True  # each fact's route graph at its last prompt token (table routes; the routes page)
    # The extractive stage (METHOD.md §6, trajectory.extractive): off unless the pipeline turns it on.
    extractive: bool = False
    extractive_counterfactuals: int = 10
    extractive_per_fact: bool = False
    extractive_batch_size: int = 32
    ocr_probe: str = "world"  # world | reference | none
    finetune_optimizer: str = "adam"
    finetune_learning_rate: float = 3e-6
    finetune_epochs: int = 8
    finetune_batch_size: int = 8
    finetune_train: str = "attention_mlp"
    # The grafting stage (METHOD.md §6, trajectory.grafting): off unless the pipeline turns it on.
    grafting: bool = False
    graft_configs: tuple[str, ...] | None = None  # None: trajectory.grafting.configs.default_configs()
    grafting_batch_size: int = 32
    # The ablation stage (issue #16, trajectory.ablation): off unless the pipeline turns it on; it reads
    # the IFR stage's circuits, so it needs store.circuits.
    ablation: bool = False
    ablation_mode: str = "mean"
    ablation_draws: int = 3
    ablation_facts_per_relation: int = 0  # the role × relation matrix on this many held-out facts per relation (0: all)
    ablation_seed: int = 0
    # The role-causality test (issue #36): each role set against this many controls on its own held-out facts,
    # on every this-many-th revision and the last (0 draws: no test).
    ablation_test_draws: int = 39
    ablation_test_every: int = 4
    ablation_batch_size: int = 256  # (configuration, prompt) rows per forward pass
    ablation_topk: bool = True  # the threshold-free top-k faithfulness curve of every fact
    # The component-effects stage (METHOD.md §9, trajectory.effects): causal ground truth for circuits and roles.
    effects: bool = False
    effects_method: str = "both"  # exhaustive | atp | both
    effects_mode: str = "mean"  # mean | zero, as the ablation stage's
    effects_kappa: float = 0.1  # causal circuit: components costing >= kappa of a fact's clean-minus-none gap
    effects_batch_size: int = 256  # (configuration, prompt) rows per forward pass
    effects_every: int = 1  # on every this-many-th selected revision (and always the first and the last)
    # Intervals and tests (trajectory.pipeline.intervals), computed at the end of every ingest that stored something.
    interval_resamples: int = 2000
    interval_role_resamples: int = 2000
    interval_level: float = 0.95
    # Frequency buckets: a fact's count at the last revision >= high is high, < low is low, else medium.
    frequency_high: int = 300
    frequency_low: int = 100
    # Where the revisions run (trajectory.pipeline.ray_executor): in this process, or one Ray task each.
    executor: str = "in-process"
    ray_address: str | None = None  # None: start a local cluster on the loopback interface, stopped at the end
    ray_gpus_per_task: float | None = None  # None: 1 on a cluster with GPUs, else 0; fractions share a GPU
    ray_cpus_per_task: float = 1.0
    ray_memory_gb_per_task: float | None = None
    ray_max_in_flight: int | None = None  # None: as many tasks as the cluster can run at once
    ray_max_retries: int = 3  # retries of a task whose worker or node died
    scratch_dir: str | None = None  # node-local folder for downloads (None: $TRAJECTORY_SCRATCH, else the temp folder)
    path: Path | None = None

    def __post_init__(self) -> None:
        where = self.path or self.name
        if self.ablation and not self.store_circuits:
            raise TrajectoryError(f"{where}: the ablation stage reads the circuits table: set store.circuits = true "
                                  "(or ablation.enabled = false, --no-ablation)")
        if self.executor not in EXECUTORS:
            raise TrajectoryError(f"{where}: executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        for name in ("ray_gpus_per_task", "ray_cpus_per_task", "ray_memory_gb_per_task", "ray_max_in_flight", "ray_max_retries"):
            value = getattr(self, name)
            if value is not None and (value < 0 or (value == 0 and name in ("ray_memory_gb_per_task", "ray_max_in_flight"))):
                raise TrajectoryError(f"{where}: {name.replace('ray_', 'executor.')} must be positive, got {value!r}")
        if self.batch_size < 1:
            raise TrajectoryError(f"{where}: ifr.batch_size must be at least 1, got {self.batch_size}")
        if self.keep_revisions < 0:
            raise TrajectoryError(f"{where}: cache.keep_revisions must be 0 or more, got {self.keep_revisions}")
        check_device_name(self.device, f"{where}: model.device")
        if not [item for item in self.revisions.split(",") if item.strip()]:
            raise TrajectoryError(f"{where}: revisions.select is empty; use 'all', names, or a step range like 5000:200000:5000")
        if not 0 < self.interval_level < 1:
            raise TrajectoryError(f"{where}: intervals.level must be in (0, 1), got {self.interval_level}")
        if not 0 < self.effects_kappa <= 1:
            raise TrajectoryError(f"{where}: effects.kappa must be in (0, 1], got {self.effects_kappa!r}")
        if self.frequency_low > self.frequency_high:
            raise TrajectoryError(f"{where}: frequency.low ({self.frequency_low}) must not exceed frequency.high ({self.frequency_high})")

    @property
    def selection(self) -> list[str]:
        return [self.revisions] + [f"-{name}" for name in self.exclude]

    def resolved_device(self) -> str:
        """The device to compute on; a device this machine does not have is an error, not a fallback."""
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        kind, _, index = self.device.partition(":")
        if kind == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                why = "this torch is built without CUDA" if not torch.backends.cuda.is_built() else "no CUDA GPU is visible"
                raise TrajectoryError(f"device {self.device!r}: {why}; use --device cpu (or auto)")
            if index and int(index) >= count:
                raise TrajectoryError(f"device {self.device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise TrajectoryError(f"device {self.device!r}: Apple's MPS is not available here; use --device cpu (or auto)")
        return self.device

    def with_overrides(self, **overrides) -> "PipelineConfig":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def with_seed(self, seed: int) -> "PipelineConfig":
        """The pipeline on its suite built from another seed: that model, <repo>-seed<N>, in the same hub."""
        if not self.suite:
            raise TrajectoryError(f"--seed picks a seed of the self-built reference; pipeline {self.name!r} reads {self.repo_id}")
        if seed < 0:
            raise TrajectoryError(f"--seed must be 0 or more, got {seed}")
        return replace(self, suite_seed=seed, repo_id=seeded_repo(self.repo_id, seed))

    def settings(self) -> list[tuple[float, str, float]]:
        """Every (τ, FFN renormalisation, θ) the pipeline asks for: one analysis each."""
        return list(itertools.product(self.thresholds, self.ffn_renormalisations, self.thetas))

    def ray_settings(self) -> RaySettings:
        return RaySettings(self.ray_address, self.ray_gpus_per_task, self.ray_cpus_per_task, self.ray_memory_gb_per_task,
                           self.ray_max_in_flight, self.ray_max_retries, self.scratch_dir)



# TOML table.key -> dataclass field, with the expected type.
_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "name": ("name", str),
    "model.repo": ("repo_id", str),
    "model.suite": ("suite", str),
    "model.suite_arch": ("suite_arch", str),
    "model.suite_seed": ("suite_seed", int),
    "model.cache_dir": ("cache_dir", str),
    "model.path": ("run_path", str),
    "model.settle_s": ("settle_s", (float, int)),
    "model.offline": ("offline", bool),
    "model.dtype": ("dtype", str),
    "model.device": ("device", str),
    "revisions.select": ("revisions", (str, list)),
    "revisions.exclude": ("exclude", list),
    "revisions.pattern": ("revision_pattern", str),
    "probe.facts": ("probe_set", str),
    "probe.name": ("probe_name", str),
    "ifr.threshold": ("thresholds", (float, int, list)),
    "ifr.ffn_renormalisation": ("ffn_renormalisations", (str, list)),
    "ifr.batch_size": ("batch_size", int),
    "ifr.memory_gb": ("memory_gb", (float, int)),
    "roles.theta": ("thetas", (float, int, list)),
    "cache.keep_revisions": ("keep_revisions", int),
    "store.circuits": ("store_circuits", bool),
    "store.routes": ("store_routes", bool),
    "extractive.enabled": ("extractive", bool),
    "extractive.counterfactuals": ("extractive_counterfactuals", int),
    "extractive.per_fact": ("extractive_per_fact", bool),
    "extractive.batch_size": ("extractive_batch_size", int),
    "extractive.ocr": ("ocr_probe", str),
    "extractive.finetune.optimizer": ("finetune_optimizer", str),
    "extractive.finetune.learning_rate": ("finetune_learning_rate", (float, int)),
    "extractive.finetune.epochs": ("finetune_epochs", int),
    "extractive.finetune.batch_size": ("finetune_batch_size", int),
    "extractive.finetune.train": ("finetune_train", str),
    "ablation.enabled": ("ablation", bool),
    "ablation.mode": ("ablation_mode", str),
    "ablation.draws": ("ablation_draws", int),
    "ablation.facts_per_relation": ("ablation_facts_per_relation", int),
    "ablation.seed": ("ablation_seed", int),
    "ablation.batch_size": ("ablation_batch_size", int),
    "ablation.topk": ("ablation_topk", bool),
    "ablation.test_draws": ("ablation_test_draws", int),
    "ablation.test_every": ("ablation_test_every", int),
    "effects.enabled": ("effects", bool),
    "effects.method": ("effects_method", str),
    "effects.mode": ("effects_mode", str),
    "effects.kappa": ("effects_kappa", (float, int)),
    "effects.batch_size": ("effects_batch_size", int),
    "effects.every": ("effects_every", int),
    "intervals.resamples": ("interval_resamples", int),
    "intervals.role_resamples": ("interval_role_resamples", int),
    "intervals.level": ("interval_level", float),
    "frequency.high": ("frequency_high", int),
    "frequency.low": ("frequency_low", int),
    "grafting.enabled": ("grafting", bool),
    "grafting.configs": ("graft_configs", list),
    "grafting.batch_size": ("grafting_batch_size", int),
    "executor.kind": ("executor", str),
    "executor.address": ("ray_address", str),
    "executor.gpus_per_task": ("ray_gpus_per_task", (float, int)),
    "executor.cpus_per_task": ("ray_cpus_per_task", (float, int)),
    "executor.memory_gb_per_task": ("ray_memory_gb_per_task", (float, int)),
    "executor.max_in_flight": ("ray_max_in_flight", int),
    "executor.max_retries": ("ray_max_retries", int),
    "executor.scratch": ("scratch_dir", str),
}
# Choices of string keys: (field, allowed values).
_CHOICES = {
    "extractive.ocr": ("ocr_probe", ("world", "reference", "none")),
    "extractive.finetune.optimizer": ("finetune_optimizer", ("adam", "sgd")),
    "extractive.finetune.train": ("finetune_train", ("attention_mlp", "early", "late")),
    "ablation.mode": ("ablation_mode", ("mean", "zero")),
    "effects.method": ("effects_method", ("exhaustive", "atp", "both")),
    "effects.mode": ("effects_mode", ("mean", "zero")),
}
_POSITIVE = {"ifr.memory_gb": "memory_gb", "model.settle_s": "settle_s", "extractive.counterfactuals": "extractive_counterfactuals", "extractive.batch_size": "extractive_batch_size",
             "extractive.finetune.epochs": "finetune_epochs", "extractive.finetune.batch_size": "finetune_batch_size",
             "extractive.finetune.learning_rate": "finetune_learning_rate", "grafting.batch_size": "grafting_batch_size",
             "ablation.draws": "ablation_draws", "ablation.batch_size": "ablation_batch_size", "ablation.test_every": "ablation_test_every",
             "effects.kappa": "effects_kappa", "effects.batch_size": "effects_batch_size", "effects.every": "effects_every",
             "intervals.resamples": "interval_resamples", "intervals.role_resamples": "interval_role_resamples"}


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
    path = resolve_pipeline_path(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TrajectoryError(f"{path}: invalid TOML: {err}") from None
    except UnicodeDecodeError:
        raise TrajectoryError(f"{path}: not UTF-8 text; save the pipeline as UTF-8") from None
    values: dict = {}
    for key, value in _flatten(data):
        if key not in _KEYS:
            raise TrajectoryError(f"{path}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        field_name, expected = _KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            raise TrajectoryError(f"{path}: {key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
        values[field_name] = value
    if "run_path" in values:
        if values.get("suite"):
            raise TrajectoryError(f"{path}: model.path (a run folder) and model.suite exclude each other")
        values["run_path"] = Path(os.path.expandvars(values["run_path"])).expanduser()
        values.setdefault("repo_id", f"run/{values['run_path'].resolve().name}")  # the run's name in the store
        values.setdefault("offline", True)
    if "repo_id" not in values:
        raise TrajectoryError(f"{path}: missing model.repo (or model.path, a training run's folder)")
    if isinstance(values.get("revisions"), list):
        values["revisions"] = ",".join(values["revisions"])
    values["exclude"] = tuple(values.get("exclude", ()))
    values.setdefault("name", path.stem)
    from trajectory.suite.recipe import PRESETS  # the recipe reads this module's SUITE_ARCHITECTURES

    if values.get("suite") is not None and values["suite"] not in PRESETS:
        raise TrajectoryError(f"{path}: model.suite must be one of {', '.join(map(repr, PRESETS))}, got {values['suite']!r}")
    if values.get("suite_arch", "olmo") not in SUITE_ARCHITECTURES:
        raise TrajectoryError(f"{path}: model.suite_arch must be {' or '.join(map(repr, SUITE_ARCHITECTURES))}, got {values['suite_arch']!r}")
    if values.get("dtype", "float32") not in DTYPES:
        raise TrajectoryError(f"{path}: model.dtype must be one of {', '.join(DTYPES)}, got {values['dtype']!r}")
    if "cache_dir" in values:
        values["cache_dir"] = Path(values["cache_dir"]).expanduser()
    elif values.get("suite"):
        values["cache_dir"] = reference_hub_cache()
    if values.get("suite"):
        values.setdefault("offline", True)  # a self-built trajectory lives only in the local cache
        if values.get("suite_seed", 0) < 0:
            raise TrajectoryError(f"{path}: model.suite_seed must be 0 or more, got {values['suite_seed']}")
        if values.get("suite_seed"):
            values["repo_id"] = seeded_repo(values["repo_id"], values["suite_seed"])
    for field_name, key in (("thresholds", "ifr.threshold"), ("thetas", "roles.theta")):
        if field_name in values:
            values[field_name] = parse_fractions(values[field_name], f"{path}: {key}")
    if "ffn_renormalisations" in values:
        values["ffn_renormalisations"] = parse_choices(values["ffn_renormalisations"], FFN_RENORMALISATIONS, f"{path}: ifr.ffn_renormalisation",
                                                       DEPRECATED_FFN_NAMES)
    for key, (field_name, allowed) in _CHOICES.items():
        if field_name in values and values[field_name] not in allowed:
            raise TrajectoryError(f"{path}: {key} must be one of {', '.join(allowed)}, got {values[field_name]!r}")
    for key, field_name in _POSITIVE.items():
        if field_name in values and not values[field_name] > 0:
            raise TrajectoryError(f"{path}: {key} must be positive, got {values[field_name]!r}")
    if "revision_pattern" in values:
        from trajectory.hub.revisions import revision_pattern

        revision_pattern(values["revision_pattern"], f"{path}: revisions.pattern")
    if "graft_configs" in values:
        values["graft_configs"] = parse_graft_configs(values["graft_configs"], f"{path}: grafting.configs")
    for key, field_name in (("ablation.facts_per_relation", "ablation_facts_per_relation"), ("frequency.high", "frequency_high"),
                            ("frequency.low", "frequency_low")):
        if values.get(field_name, 0) < 0:
            raise TrajectoryError(f"{path}: {key} must not be negative, got {values[field_name]!r}")
    if 0 < values.get("ablation_test_draws", 0) < MIN_TEST_DRAWS:
        raise TrajectoryError(f"{path}: ablation.test_draws must be 0 (no test) or at least {MIN_TEST_DRAWS} (fewer cannot check "
                              f"the test's calibration), got {values['ablation_test_draws']!r}")
    return PipelineConfig(path=path, **values)


def parse_graft_configs(names, where: str) -> tuple[str, ...]:
    """Graft configuration names (``FE``, ``LT:o+ffn@last_quarter``, or ``default`` for the default set),
    checked and written canonically, without repeats."""
    from trajectory.grafting.configs import GraftConfig, default_configs

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


def parse_fractions(value, where: str) -> tuple[float, ...]:
    """τ or θ: one number or a list (TOML) or comma-separated text (CLI), each in [0, 1), without repeats."""

    def fraction(item) -> float:
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


def parse_choices(value, allowed: tuple[str, ...], where: str, renamed: dict[str, str] | None = None) -> tuple[str, ...]:
    """One of ``allowed`` or several (a list, or comma-separated text), without repeats; a deprecated name
    in ``renamed`` is read as its new one, saying so once."""

    def choice(item) -> str:
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
        log.warning("%s: %r is the deprecated name of %r (llm-transparency-tool's FFN renormalisation; the study's own "
                    "code renormalised per position): write %r", where, old, new, new)


def _parse_list(value, convert, where: str) -> tuple:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    values: list = []
    for item in items:
        converted = convert(item.strip() if isinstance(item, str) else item)
        if converted not in values:
            values.append(converted)
    if not values:
        raise TrajectoryError(f"{where} is empty")
    return tuple(values)


def _flatten(data: dict, prefix: str = ""):
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, full + ".")
        else:
            yield full, value

