"""Pretrain a small model with the Hugging Face Trainer on the reference's corpus, trajectory's callback on: each
checkpoint is ingested while the model trains, and the measures go to TensorBoard beside the loss.

    python scripts/pretrain_with_trainer.py --out runs/my-run                 # the default reference's shape and corpus
    python scripts/pretrain_with_trainer.py --out runs/quick --preset small   # seconds (the tests run this)
    tensorboard --logdir runs/my-run/runs                                     # loss and trajectory/... side by side
    trajectory dashboard --db runs/my-run/trajectory.duckdb

The batches are the reference build's (the same corpus, fact weights and order of draws); the model and schedule
are the preset's, the optimisation is the Trainer's (AdamW, linear decay), so the weights differ from the build's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import Trainer, TrainingArguments

from trajectory.integrations import TrajectoryCallback
from trajectory.suite.build import new_model, reference_corpus, sample_batch
from trajectory.suite.recipe import PRESETS, phase

if TYPE_CHECKING:
    from trajectory.suite.recipe import SuiteConfig


class ReferenceBatches(torch.utils.data.Dataset):
    """The build's batches for ``steps`` steps, row by row (the Trainer regroups them; its sampler is sequential)."""

    def __init__(self, config: SuiteConfig, steps: int):
        self.tokenizer, fact_ids, filler_ids, pair_ids, weights = reference_corpus(config)
        generator = torch.Generator().manual_seed(config.seed)
        pad = self.tokenizer.pad_token_id
        self.rows: list[list[int]] = []
        for step in range(1, steps + 1):
            batch = sample_batch(config, fact_ids, filler_ids, pair_ids, phase(config, step, steps), weights, generator, pad)
            self.rows.extend([t for t in row.tolist() if t != pad] for row in batch)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return {"input_ids": self.rows[index]}


def collate(pad_id: int) -> Callable[[list[dict]], dict]:
    def pad(rows: list[dict]) -> dict:
        length = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
        return {"input_ids": ids, "attention_mask": (ids != pad_id).long(), "labels": ids.masked_fill(ids == pad_id, -100)}

    return pad


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the Trainer's output_dir (checkpoints, the store, TensorBoard logs)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--save-steps", type=int, default=None, help="a checkpoint every this many steps (default: 40 over the run)")
    parser.add_argument("--pipeline", default="reference", help="trajectory's pipeline: its probe set and stages")
    parser.add_argument("--report-to", default="tensorboard", help="the Trainer's report_to (comma-separated; 'none')")
    parser.add_argument("--save-total-limit", type=int, default=None, help="keep this many checkpoints (the Trainer deletes older ones)")
    parser.add_argument("--resume", action="store_true", help="resume from the newest checkpoint in --out")
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    steps = args.steps or config.steps
    data = ReferenceBatches(config, steps)
    model = new_model(config, len(data.tokenizer), data.tokenizer)
    training = TrainingArguments(
        output_dir=str(args.out),
        max_steps=steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        adam_beta2=0.95,
        max_grad_norm=1.0,
        lr_scheduler_type="linear",
        save_strategy="steps",
        save_steps=args.save_steps or max(1, steps // 40),
        save_total_limit=args.save_total_limit,
        logging_steps=max(1, min(10, steps // 4)),
        report_to=[r for r in args.report_to.split(",") if r != "none"],
        use_cpu=not torch.cuda.is_available(),
        seed=config.seed,
        dataloader_drop_last=False,
        train_sampling_strategy="sequential",
        disable_tqdm=False,
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=data,
        data_collator=collate(data.tokenizer.pad_token_id),
        processing_class=data.tokenizer,
        callbacks=[TrajectoryCallback(pipeline=args.pipeline)],
    )
    trainer.train(resume_from_checkpoint=True if args.resume else None)


if __name__ == "__main__":
    main()
