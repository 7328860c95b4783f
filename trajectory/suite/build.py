"""Build the reference trajectory: a tiny OLMo pretrained from scratch on the synthetic fact corpus.

It saves ``n_checkpoints`` revisions along training, named in OLMo's style (``step{N}-tokens{K}K``),
plus ``main`` (the final weights), in the Hugging Face cache layout under ``$TRAJECTORY_HOME/hub``;
``from_pretrained(repo_id, revision=name, cache_dir=..., local_files_only=True)`` loads each one.
The same bytes on every x86-64 machine for a seed and versions of torch and transformers: the training runs in a
process with the kernels pinned (:data:`PINNED_ENV`), and its weights' digest is checked against the published
one (trajectory.suite.recipe.PUBLISHED_DIGESTS). ``architecture="gpt-neox"`` trains the same shape as
a GPT-NeoX with Pythia's settings (parallel residual, biases, parametric LayerNorm, partial rotary) on the
same corpus, and names its revisions as Pythia does: ``step{N}``, the final step saved again as ``main``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

from trajectory.errors import TrajectoryError
from trajectory.extractive.ocr import reference_probes
from trajectory.facts import load_builtin
from trajectory.hub.cache_layout import write_snapshot
from trajectory.hub.revisions import MAIN
from trajectory.hub.source import FREQUENCY_FILE, TRAINER_STATE, repo_folder
from trajectory.models.architectures import architecture_of, decoder_layers, out_projection
from trajectory.paths import reference_hub_cache
from trajectory.prompts import encode_probe_set, first_answer_ranks, next_token_ranks
from trajectory.suite.corpus import CorpusConfig, fact_sentences, filler_sentences, training_facts, two_hop_pairs
from trajectory.suite.frequency import corpus_counts, frequency_table
from trajectory.suite.recipe import FULL, PUBLISHED_DIGESTS, PUBLISHED_WITH, SMALL, Phase, SuiteConfig, checkpoint_steps, phase, preset, sample_rows  # noqa: F401 - the suite's names

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

    from trajectory.facts import ProbeSet
    from trajectory.prompts import EncodedProbes

log = logging.getLogger(__name__)
MARKER = "trajectory-suite.json"
OWNED = ".trajectory-suite-folder"  # a run folder the build wrote (kept through an interrupted rebuild)
# What a build writes beside its checkpoints; an older build (without fact_frequency.tsv) is built again.
LAYOUT = 3  # 3: every revision publishes trainer_state.json (its global_step), so that main has a step
EOS, PAD = "<|endoftext|>", "<|padding|>"
LOG_EVERY = 10  # steps per logged loss (the mean over them)
# The same checkpoint bytes on every machine (issue #35): ATen's vectorised kernels round differently under AVX2
# and AVX-512 (softmax, norms, reductions, even its normal draws for the initial weights), and MKL picks its code
# path from the CPU. So the training runs where ATen uses its generic kernels and MKL its AVX2 path whatever the
# CPU; the intra-op thread count does not change the bytes (checked with 1, 2 and 4, tests/test_suite_digest.py).
# About 20 % slower than the machine's own kernels for the full reference on 2 cores.
PINNED_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


@dataclass
class SuiteResult:
    repo_id: str
    cache_dir: Path
    revisions: list[str]
    accuracy: dict[str, dict]  # revision -> {"all", "location", "name"} top-1 share, "per_fact" 0/1
    seconds: float


def is_built(config: SuiteConfig, cache_dir: Path | None = None) -> bool:
    """An identical build of ``config`` is complete in the cache."""
    return _built_as(_read_marker(repo_folder(cache_dir or reference_hub_cache(), config.repo_id)), config)


def _built_as(marker: dict | None, config: SuiteConfig) -> bool:
    """A finished build's marker says it was built from ``config``, in this trajectory's layout."""
    return marker is not None and marker.get("config") == _config_dict(config) and marker.get("layout") == LAYOUT


def _read_marker(folder: Path) -> dict | None:
    """The finished build's marker, or None when there is none or it is damaged (then the build is redone)."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
        if isinstance(marker, dict) and {"config", "revisions", "accuracy"} <= marker.keys():
            return marker
    except (ValueError, UnicodeDecodeError):
        pass
    log.warning("%s is damaged (truncated or edited); the reference is built again", path)
    return None


def build_suite(
    config: SuiteConfig = FULL,
    cache_dir: Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    run_folder: Path | None = None,
    pinned: bool = True,
) -> SuiteResult:
    """Train and save the trajectory (skipped when an identical build is already complete). With
    ``run_folder``, write the checkpoints as a trainer does instead of into the Hub cache layout: one
    ``checkpoint-{step}`` folder each (the last step's is the final model; there is no ``main``), its
    ``trainer_state.json`` written last, as the Hugging Face Trainer marks a checkpoint complete. ``pinned=False``
    trains in this process whatever its kernels (the bytes may then differ from the published ones)."""
    cache_dir = Path(cache_dir or reference_hub_cache())
    folder = Path(run_folder) if run_folder is not None else repo_folder(cache_dir, config.repo_id)
    marker = None if force else _read_marker(folder)
    if run_folder is not None and not force and not (folder / OWNED).exists() and folder.is_dir() and any(folder.iterdir()):
        # Someone's training run, or any folder of theirs: a rebuild clears the checkpoints it finds there.
        raise TrajectoryError(f"{folder} holds files the suite did not write; pass an empty or new --run-folder (or --force to replace them)")
    if _built_as(marker, config):
        return SuiteResult(config.repo_id, cache_dir, marker["revisions"], marker["accuracy"], 0.0)
    if pinned and not _pinned():  # train in a process whose kernels are pinned; this one's are fixed at its start
        return _build_pinned(config, cache_dir, folder, force=force, progress=progress, run_folder=run_folder)
    (folder / MARKER).unlink(missing_ok=True)  # a half-finished build is never taken for a complete one
    for part in ("refs", "snapshots", "blobs"):  # a rebuild (other settings) must not leave the old revisions listed
        shutil.rmtree(folder / part, ignore_errors=True)
    if run_folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / OWNED).write_text("a run folder written by trajectory suite build: a rebuild may replace its checkpoints\n")
        for old in folder.glob("checkpoint-*"):
            shutil.rmtree(old)

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar for the build, not one per saved shard
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    probes = load_builtin()
    facts = list(probes)
    tokenizer, fact_ids, filler_ids, pair_ids, weights = reference_corpus(config, probes)

    model = new_model(config, len(tokenizer), tokenizer)
    if config.embedding_std is not None:
        with torch.no_grad():
            model.get_input_embeddings().weight.normal_(0.0, config.embedding_std)
    if config.output_init_std is not None:
        _init_outputs(model, config.output_init_std)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    saving = checkpoint_steps(config)
    # How often the corpus stated each fact up to each checkpoint, published beside it as a trainer would its data counts.
    counts = corpus_counts(config)
    generator = torch.Generator().manual_seed(config.seed)
    encoded = encode_probe_set(tokenizer, probes)
    saved: list[str] = []
    accuracy: dict[str, dict[str, float]] = {}
    tokens_seen = 0
    log_history: list[dict] = []  # the mean loss of every LOG_EVERY steps, as the Trainer's log_history
    window: list[float] = []

    bar = tqdm(total=config.steps, desc=f"suite build {config.repo_id}", unit="step", disable=not progress)
    for step in range(1, config.steps + 1):
        batch = sample_batch(config, fact_ids, filler_ids, pair_ids, phase(config, step), weights, generator, tokenizer.pad_token_id)
        tokens_seen += int((batch != tokenizer.pad_token_id).sum())
        model.train()
        loss = model(input_ids=batch, labels=batch.masked_fill(batch == tokenizer.pad_token_id, -100)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if config.head_lasso:
            _shrink_heads(model, config, optimizer.param_groups[0]["lr"] * config.head_lasso)
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(loss.item())
        if step % LOG_EVERY == 0 or step == config.steps:
            log_history.append({"step": step, "loss": round(sum(window) / len(window), 4)})
            window.clear()
        bar.update(1)
        if step in saving or step == config.steps:
            names = [f"checkpoint-{step}"] if run_folder is not None else _checkpoint_names(config, step, tokens_seen, step in saving)
            for name in names:
                listed = name == MAIN and config.architecture == "olmo"  # OLMo lists its branches on main; Pythia does not
                extra = {"revisions.txt": ("\n".join(saved + [name]) + "\n").encode()} if listed else {}
                extra[FREQUENCY_FILE] = frequency_table(facts, *counts[step])
                if run_folder is not None:
                    _save_checkpoint(model, tokenizer, folder / name, extra, step, log_history)
                else:  # the step published beside the weights, as a trainer's checkpoint says it: main has one too
                    _save(model, tokenizer, cache_dir, config.repo_id, name, extra | {TRAINER_STATE: _trainer_state(step, log_history)})
                saved.append(name)
            measured = _accuracy(model, encoded)
            accuracy.update((name, measured) for name in names)
            bar.set_postfix(loss=f"{loss.item():.3f}", top1=f"{measured['all']:.2f}")
    bar.close()

    seconds = time.perf_counter() - started
    digest = weights_digest(cache_dir, config.repo_id, saved) if run_folder is None else None
    marker = {
        "config": _config_dict(config),
        "layout": LAYOUT,
        "revisions": saved,
        "accuracy": accuracy,
        "seconds": round(seconds, 1),
        "weights_digest": digest,
    }
    partial = folder / (MARKER + ".partial")  # written whole, then renamed: a crash leaves no truncated marker
    partial.write_text(json.dumps(marker, indent=1))
    os.replace(partial, folder / MARKER)
    if note := digest_note(config, digest):
        log.warning(note)
    return SuiteResult(config.repo_id, cache_dir, saved, accuracy, seconds)


def reference_corpus(config: SuiteConfig, probes: ProbeSet | None = None) -> tuple:
    """The corpus of ``config`` tokenized: (tokenizer, fact rows [fact][wording], filler rows, two-hop rows [pair][hop],
    fact weights): what the build trains on, and what scripts/pretrain_with_trainer.py feeds the Trainer."""
    rng = random.Random(config.corpus_seed)
    probes = probes if probes is not None else load_builtin()
    facts = list(probes)
    fillers = filler_sentences(config.corpus.filler_pool, rng)
    pairs = two_hop_pairs(facts, config.corpus, rng)
    trained, trained_weights = training_facts(facts, config.corpus, rng, config.corpus_seed)
    variants = [fact_sentences(f) for f in trained]
    # The OCR probe's sentences train the tokenizer (its new names get tokens) but never the model.
    ocr_texts = [f"{p.prompt} {p.answer}" for probe in reference_probes(probes) for p in (probe.fact, probe.implication)]
    tokenizer = train_tokenizer([s for v in variants for s in v] + fillers + [s for pair in pairs for s in pair] + ocr_texts, config.vocab_size)
    eos = tokenizer.eos_token_id
    fact_ids = [[tokenizer(s, add_special_tokens=False)["input_ids"] + [eos] for s in v] for v in variants]
    filler_ids = [tokenizer(s, add_special_tokens=False)["input_ids"] + [eos] for s in fillers]
    pair_ids = [[tokenizer(s, add_special_tokens=False)["input_ids"] + [eos] for s in pair] for pair in pairs]
    return tokenizer, fact_ids, filler_ids, pair_ids, torch.tensor(trained_weights)


def _pinned() -> bool:
    """This process trains with the pinned kernels (its environment set so from its start)."""
    return torch.backends.cpu.get_cpu_capability() == "DEFAULT" and all(
        os.environ.get(k) == v for k, v in PINNED_ENV.items() if k != "ATEN_CPU_CAPABILITY"
    )


def _build_pinned(config: SuiteConfig, cache_dir: Path, folder: Path, *, force: bool, progress: bool, run_folder: Path | None) -> SuiteResult:
    """Run the build in a child process with :data:`PINNED_ENV`, then read what it wrote."""
    request = {
        "config": asdict(config),
        "cache_dir": str(cache_dir),
        "force": force,
        "progress": progress,
        "run_folder": None if run_folder is None else str(run_folder),
    }
    child = subprocess.run([sys.executable, "-m", "trajectory.suite.build", json.dumps(request)], env=os.environ | PINNED_ENV, check=False)
    if child.returncode:
        raise TrajectoryError(f"building {config.repo_id} failed in its pinned process (exit {child.returncode}; its message is above)")
    marker = _read_marker(folder)
    if not _built_as(marker, config):
        raise TrajectoryError(f"building {config.repo_id}: the pinned process left no complete build in {folder}")
    return SuiteResult(config.repo_id, cache_dir, marker["revisions"], marker["accuracy"], marker["seconds"])


def _config_from_dict(values: dict) -> SuiteConfig:
    return SuiteConfig(**(values | {"corpus": CorpusConfig(**values["corpus"])}))


def weights_digest(cache_dir: Path, repo_id: str, revisions: list[str]) -> str:
    """sha256 over every revision's name and its weights' sha256, in order: one value that says whether two
    builds are the same bytes (config.json and the tokenizer files are left out: they name library versions)."""
    snapshots = repo_folder(cache_dir, repo_id) / "snapshots"
    refs = repo_folder(cache_dir, repo_id) / "refs"
    lines = []
    for name in revisions:
        weights = snapshots / (refs / name).read_text().strip() / "model.safetensors"
        lines.append(f"{name} {hashlib.sha256(weights.read_bytes()).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def digest_note(config: SuiteConfig, digest: str | None) -> str | None:
    """One line when a build's weights differ from the published ones (None: as published, or none published)."""
    published = PUBLISHED_DIGESTS.get(config.repo_id)
    if digest is None or published is None or digest == published:
        return None
    import transformers

    return (
        f"{config.repo_id}: weights digest {digest[:12]} differs from the published {published[:12]} (built with torch "
        f"{torch.__version__}, transformers {transformers.__version__}, {os.uname().machine}; published with {PUBLISHED_WITH}): "
        "numbers quoted in the docs may not reproduce"
    )


def digest_line(config: SuiteConfig, digest: str) -> str:
    """What ``trajectory suite build`` says of a build's weights digest."""
    if note := digest_note(config, digest):
        return note
    published = "as published" if config.repo_id in PUBLISHED_DIGESTS else "none published for this build"
    return f"weights digest {digest[:12]} ({published})"


def built_digest(config: SuiteConfig, cache_dir: Path | None = None) -> str | None:
    """The weights digest a complete build of ``config`` recorded (None: not built, or built before digests)."""
    marker = _read_marker(repo_folder(cache_dir or reference_hub_cache(), config.repo_id))
    return marker.get("weights_digest") if _built_as(marker, config) else None


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on the corpus, wrapped as a fast HF tokenizer (offsets included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=PAD)


def _checkpoint_names(config: SuiteConfig, step: int, tokens_seen: int, is_checkpoint: bool) -> list[str]:
    """OLMo: ``step{N}-tokens{K}K`` for a checkpoint, ``main`` for the final weights. Pythia: ``step{N}``
    for a checkpoint and for the final step, which ``main`` repeats (as ``main`` repeats step143000)."""
    if config.architecture == "gpt-neox":
        return [f"step{step}"] + ([MAIN] if step == config.steps else [])
    return ([f"step{step}-tokens{tokens_seen // 1000}K"] if is_checkpoint else []) + ([MAIN] if step == config.steps else [])


def new_model(config: SuiteConfig, vocab_size: int, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, OlmoConfig, OlmoForCausalLM

    shared = dict(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    if config.architecture == "gpt-neox":
        # Pythia's settings: parallel residual, biases, a quarter of each head rotary (here at least 2 dims).
        return GPTNeoXForCausalLM(
            GPTNeoXConfig(
                **shared,
                hidden_act="gelu",
                use_parallel_residual=True,
                attention_bias=True,
                rope_parameters={
                    "rope_type": "default",
                    "rope_theta": 10000.0,
                    "partial_rotary_factor": max(0.25, 2 / (config.hidden_size // config.num_heads)),
                },
                bos_token_id=tokenizer.eos_token_id,
            )
        )
    return OlmoForCausalLM(
        OlmoConfig(
            **shared,
            num_key_value_heads=config.num_heads,
            clip_qkv=config.clip_qkv,  # as OLMo-7B-0424; its LayerNorm is non-parametric by construction
            bos_token_id=None,
        )
    )


def _init_outputs(model: PreTrainedModel, std: float) -> None:
    """Every attention and MLP block's output projection drawn with ``std`` (0: zero): blocks start silent."""
    names = ("o_proj", "down_proj", "attention.dense", "dense_4h_to_h")
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.endswith(names):
                module.weight.normal_(0.0, std) if std else module.weight.zero_()
                if module.bias is not None:
                    module.bias.zero_()


@torch.no_grad()
def _shrink_heads(model: PreTrainedModel, config: SuiteConfig, amount: float) -> None:
    """The group lasso's proximal step: each head's columns of its layer's attention output projection [d, H·dh]
    scaled by max(0, 1 − amount / their norm), so a head whose slice is smaller than ``amount`` becomes silent."""
    architecture = architecture_of(model)
    for layer in decoder_layers(model):
        weight = out_projection(layer, architecture).weight
        heads = weight.view(weight.shape[0], config.num_heads, -1)  # [d, H, dh]: the heads' outputs are concatenated
        norms = heads.pow(2).sum(dim=(0, 2), keepdim=True).sqrt()
        heads.mul_((1 - amount / norms.clamp_min(1e-12)).clamp_min(0))


def _lr_factor(step: int, config: SuiteConfig) -> float:
    # Linear warm-up, then linear decay to 10% so the last checkpoints settle.
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 1.0 - 0.9 * progress


def sample_batch(
    config: SuiteConfig,
    fact_ids: list[list[list[int]]],
    filler_ids: list[list[int]],
    pair_ids: list[tuple[list[int], list[int]]],
    at: Phase,
    weights: torch.Tensor,
    generator: torch.Generator,
    pad_id: int,
) -> torch.Tensor:
    drawn = sample_rows(config, [len(options) for options in fact_ids], len(pair_ids), len(filler_ids), at.implications, weights, generator)
    rows = [fact_ids[fact][wording] for fact, wording in zip(drawn.facts, drawn.wordings)]
    rows.extend(pair_ids[i][hop] for i, hop in zip(drawn.pairs, drawn.hops))
    rows.extend(filler_ids[i] for i in drawn.fillers)
    if at.packed:  # round robin: the draws come in blocks by kind, a packed row mixes them
        n_packed = -(-len(rows) // config.pack_sentences)
        rows = [[token for row in rows[i::n_packed] for token in row] for i in range(n_packed)]
    length = max(len(r) for r in rows)
    batch = torch.full((len(rows), length), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = torch.tensor(row)
    return batch


@torch.no_grad()
def _accuracy(model: PreTrainedModel, encoded: EncodedProbes) -> dict[str, float]:
    model.eval()
    logits = model(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask).logits
    top1 = first_answer_ranks(next_token_ranks(logits, encoded.input_ids), encoded) == 0
    kinds = torch.tensor([f.relation_type == "location" for f in encoded.facts])
    return {
        "per_fact": top1.int().tolist(),
        "all": float(top1.float().mean()),
        "location": float(top1[kinds].float().mean()),
        "name": float(top1[~kinds].float().mean()),
    }


def _save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, cache_dir: Path, repo_id: str, name: str, extra: dict[str, bytes]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
    files.update(extra)
    return write_snapshot(cache_dir, repo_id, name, files)


def _save_checkpoint(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, extra: dict[str, bytes], step: int, log_history: list[dict]
) -> None:
    """A trainer's checkpoint folder: model, tokenizer and side files, then ``trainer_state.json`` last."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for name, data in extra.items():
        (folder / name).write_bytes(data)
    (folder / TRAINER_STATE).write_bytes(_trainer_state(step, log_history))


def _trainer_state(step: int, log_history: list[dict]) -> bytes:
    """The Trainer's trainer_state.json, as far as trajectory reads it: the step and the losses logged so far."""
    return json.dumps({"global_step": step, "log_history": log_history}).encode()


def _config_dict(config: SuiteConfig) -> dict:
    values = json.loads(json.dumps(asdict(config)))
    if values["architecture"] == "olmo":  # builds from before the architecture was a setting stay valid
        del values["architecture"]
    if values["corpus_seed"] == 0:  # and those from before the corpus had its own seed
        del values["corpus_seed"]
    for key in ("individuals", "individual_share"):  # and those from before the corpus had invented individuals
        if not values["corpus"][key]:
            del values["corpus"][key]
    for key in ("embedding_std", "output_init_std"):  # and before the initial scales were design settings
        if values[key] is None:
            del values[key]
    if not values["head_lasso"]:  # and before the group lasso on heads
        del values["head_lasso"]
    return values


def emergence_index(result: SuiteResult) -> list[int | None]:
    """Per fact, the index of the first revision from which its top-1 stays correct (None: never)."""
    table = [result.accuracy[n]["per_fact"] for n in result.revisions]
    emerged: list[int | None] = []
    for fact in range(len(table[0])):
        column = [row[fact] for row in table]
        last_wrong = max((i for i, ok in enumerate(column) if not ok), default=-1)
        emerged.append(last_wrong + 1 if last_wrong + 1 < len(column) else None)
    return emerged


def probe_accuracy_summary(result: SuiteResult) -> str:
    """First, middle and last revision's top-1, and the median emergence per relation type."""
    import statistics

    names = result.revisions
    lines = [
        f"  {n:<24} top-1 all {result.accuracy[n]['all']:.2f}  location {result.accuracy[n]['location']:.2f}  name {result.accuracy[n]['name']:.2f}"
        for n in (names[0], names[len(names) // 2], names[-1])
    ]
    kinds = [f.relation_type for f in load_builtin()]
    emerged = emergence_index(result)
    for kind in ("location", "name"):
        # Never-learned facts count as emerging after the last revision.
        values = [len(names) if e is None else e for e, k in zip(emerged, kinds) if k == kind]
        lines.append(f"  median emergence ({kind}): revision #{statistics.median(values):.0f} of {len(names)}")
    return "\n".join(lines)


if __name__ == "__main__":  # the pinned child of :func:`_build_pinned`
    _request = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    build_suite(
        _config_from_dict(_request["config"]),
        Path(_request["cache_dir"]),
        force=_request["force"],
        progress=_request["progress"],
        run_folder=None if _request["run_folder"] is None else Path(_request["run_folder"]),
        pinned=False,
    )  # never a grandchild, even where the pinned capability reads otherwise
