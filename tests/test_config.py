"""The pipeline's sections: every TOML key read into its section by one path, its type from the field, one default
per setting, checks in the section, and CLI overrides through the same path."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from trajectory.config import PipelineConfig, load_pipeline, setting_keys
from trajectory.errors import TrajectoryError
from trajectory.extractive.finetune import FinetuneRecipe
from trajectory.extractive.stage import ExtractiveSettings
from trajectory.paths import PIPELINES_DIR
from trajectory.pipeline.effects import EffectsSettings
from trajectory.pipeline.intervals import IntervalSettings
from trajectory.pipeline.stages.ablation import AblationSettings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text('[model]\nrepo = "org/model"\n' + text)
    return path


def test_every_shipped_pipeline_reads_back_each_of_its_keys():
    for path in sorted(PIPELINES_DIR.glob("*.toml")):
        config = load_pipeline(path)
        data = tomllib.loads(path.read_text())
        for table, values in data.items():
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if isinstance(value, dict) or (table, key) in (("model", "repo"), ("model", "cache_dir")):
                    continue
                section = getattr(config, table)
                field_name = next(f.name for f in dataclasses.fields(section) if f.metadata.get("key", f.name) == key)
                read = getattr(section, field_name)
                expected = {
                    "select": lambda v: ",".join(v) if isinstance(v, list) else v,
                    "threshold": lambda v: tuple(v) if isinstance(v, list) else (v,),
                    "theta": lambda v: tuple(v) if isinstance(v, list) else (v,),
                    "exclude": tuple,
                }.get(key, lambda v: v)(value)
                if key == "configs":
                    continue  # graft names are written canonically (tests/test_grafting_stage.py)
                assert read == expected, (path.name, table, key)


def test_a_key_maps_to_its_section_and_types_come_from_the_fields(tmp_path):
    config = load_pipeline(
        _write(tmp_path, "[ablation]\ndraws = 9\n[ifr]\nthreshold = [0.01, 0.05]\nmemory_gb = 2\n[extractive.finetune]\nepochs = 2\n")
    )
    assert config.ablation.draws == 9 and config.ifr.thresholds == (0.01, 0.05) and config.ifr.memory_gb == 2
    assert config.extractive.finetune.epochs == 2 and config.extractive.finetune.batch_size == 8  # the rest at defaults
    for text, message in [
        ("[ablation]\ndraws = 2.5\n", "ablation.draws must be int, got 2.5"),
        ("[ablation]\ndraws = true\n", "ablation.draws must be int, got True"),
        ("[store]\ncircuits = 1\n", "store.circuits must be bool, got 1"),
        ("[ablation]\ndraw = 3\n", "unknown key 'ablation.draw'"),
        ("[ablation]\ndraws = 0\n", "ablation.draws must be positive, got 0"),
        ("[ifr]\nthreshold = 1.5\n", "ifr.threshold must be in [0, 1), got 1.5"),
        ("[extractive.finetune]\ntrain = \"all\"\n", "extractive.finetune.train must be one of attention_mlp, early, late"),
        ("[ablation]\nenabled = true\n", "set store.circuits = true"),
    ]:
        with pytest.raises(TrajectoryError) as raised:
            load_pipeline(_write(tmp_path, text))
        assert str(raised.value).startswith(f"{tmp_path / 'p.toml'}: ") and message in str(raised.value), (text, raised.value)


def test_overrides_go_through_the_same_checks_and_leave_the_rest():
    base = load_pipeline("reference")
    changed = base.with_overrides({"ablation.draws": 7, "model.device": "cpu", "ifr.threshold": (0.02, 0.05), "executor.memory_gb_per_task": 4})
    assert (changed.ablation.draws, changed.model.device, changed.ifr.thresholds) == (7, "cpu", (0.02, 0.05))
    assert changed.executor.memory_gb_per_task == 4 and changed.effects == base.effects and changed.model.repo_id == base.model.repo_id
    assert base.ablation.draws != 7  # frozen: the original is untouched
    assert base.with_overrides({"model.cache_dir": None}).model.cache_dir is None  # None where the setting may be None
    for overrides, message in [
        ({"ablation.draws": -1}, "ablation.draws must be positive"),
        ({"model.device": "tpu"}, "model.device must be auto, cpu"),
        ({"ablation.draws": None}, "ablation.draws must be int, got None"),
        ({"store.circuits": False}, "set store.circuits = true"),  # the reference runs the ablation stage
        ({"ablation.test_draws": 5}, "ablation.test_draws must be 0 (no test) or at least 19"),
    ]:
        with pytest.raises(TrajectoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
            base.with_overrides(overrides)


def test_one_default_per_setting():
    """The measures' own settings take the sections' defaults; every key has exactly one field."""
    config = PipelineConfig(name="x", model=dataclasses.replace(load_pipeline("reference").model))
    assert EffectsSettings() == EffectsSettings(config.effects.method, config.effects.mode, config.effects.kappa, config.effects.batch_size)
    ablation = AblationSettings()
    assert (ablation.mode, ablation.draws, ablation.rows_per_pass, ablation.topk) == (
        config.ablation.mode,
        config.ablation.draws,
        config.ablation.batch_size,
        config.ablation.topk,
    )
    extractive = ExtractiveSettings()
    assert (extractive.counterfactuals, extractive.per_fact, extractive.batch_size) == (
        config.extractive.counterfactuals,
        config.extractive.per_fact,
        config.extractive.batch_size,
    )
    recipe, finetune = FinetuneRecipe(), config.extractive.finetune
    assert (recipe.optimizer, recipe.learning_rate, recipe.epochs, recipe.batch_size, recipe.train) == (
        finetune.optimizer,
        finetune.learning_rate,
        finetune.epochs,
        finetune.batch_size,
        finetune.train,
    )
    assert (IntervalSettings().resamples, IntervalSettings().level) == (config.intervals.resamples, config.intervals.level)
    keys = setting_keys()
    assert len(keys) == len(set(keys)) > 60 and "executor.scratch" in keys and "extractive.finetune.train" in keys


def test_the_config_reads_without_torch_and_knows_the_suites_presets():
    """The config is the ground floor: it names the presets the recipe builds and checks graft names without
    importing a measure (or torch, which a measure brings)."""
    code = (
        "import sys; import trajectory.config as c; "
        "assert 'torch' not in sys.modules, 'torch'; "
        "assert not [m for m in sys.modules if m.startswith(('trajectory.grafting', 'trajectory.suite'))]; "
        "from trajectory.suite.recipe import PRESETS; assert tuple(PRESETS) == c.SUITE_PRESETS, (tuple(PRESETS), c.SUITE_PRESETS)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
