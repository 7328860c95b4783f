"""Finetune a copy of a model on new facts alone (the paper's recipe, scaled; METHOD.md §6).

Recipe: Adam (or SGD), constant learning rate, no weight decay, ``epochs`` passes over the facts in
seeded shuffled batches, cross-entropy on the answer tokens only (text ``prompt + " " + answer``).
Trained parameters (``train``): ``attention_mlp`` = every attention and MLP weight of every layer, the
paper's choice for OLMo (embeddings, unembedding and norms frozen); ``early`` / ``late`` = the same in
the first three quarters / the last quarter of the layers only (the paper's layer-freezing split of
OLMo-7B: early = layers 0–23, late = 24–31; first-hop facts need the early layers' update, second-hop
facts the late layers'). The copy shares every frozen tensor with the model (only trained weights are
copied), and everything stays float32: W′ − W of a bfloat16 copy would be mostly rounding.

Cost on OLMo-7B (6.5e9 attention+MLP weights of 6.9e9; the float32 W the scores need is 28 GB): all
layers with Adam need 6.5e9 × (4 copy + 4 gradient + 8 moments) = 104 GB more: not on one 80 GB GPU.
``late`` (1.6e9 weights) needs 26 GB more, 54 GB in all: it fits, and is the 7B pipeline's choice;
``attention_mlp`` with SGD needs 52 GB more (80 GB: it does not fit with activations); ``early`` with SGD
39 GB more (67 GB). The reference's tiny model trains everything on the CPU in a second.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from trajectory.config import FinetuneSection
from trajectory.errors import TrajectoryError
from trajectory.models.taps import frozen, linear_modules
from trajectory.prompts import RewardPrompt, pad_id, right_padded

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

TRAINED = ("attention_mlp", "early", "late")
OPTIMIZERS = ("adam", "sgd")


_DEFAULTS = FinetuneSection()  # one default per setting: the pipeline's [extractive.finetune] section's


@dataclass(frozen=True)
class FinetuneRecipe:
    optimizer: str = _DEFAULTS.optimizer
    learning_rate: float = _DEFAULTS.learning_rate  # the paper's for OLMo-7B; a tiny model needs its own (pipeline key)
    epochs: int = _DEFAULTS.epochs
    batch_size: int = _DEFAULTS.batch_size
    train: str = _DEFAULTS.train
    seed: int = 0


def trained_parameters(model: torch.nn.Module, train: str) -> list[torch.nn.Parameter]:
    layers = linear_modules(model)
    split = max(1, (3 * len(layers)) // 4)  # OLMo-7B: 24 of 32 layers are "early"
    if train not in TRAINED:
        raise TrajectoryError(f"finetune train must be one of {', '.join(TRAINED)}, got {train!r}")
    chosen = layers if train == "attention_mlp" else layers[:split] if train == "early" else layers[split:]
    return [module.weight for layer in chosen for module in layer.values()]


def answer_examples(tokenizer: PreTrainedTokenizerBase, facts: list[RewardPrompt]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, attention_mask and labels (−100 except on the answer's tokens), right-padded."""
    rows, labels = [], []
    for fact in facts:
        prompt = tokenizer(fact.prompt, add_special_tokens=False)["input_ids"]
        answer = tokenizer(" " + fact.answer, add_special_tokens=False)["input_ids"]
        rows.append(prompt + answer)
        labels.append([-100] * len(prompt) + answer)
    ids, mask = right_padded(rows, pad_id(tokenizer))
    target, _ = right_padded(labels, -100)
    return ids, mask, target


def finetune(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, facts: list[RewardPrompt], recipe: FinetuneRecipe
) -> tuple[torch.nn.Module, list[float]]:
    """A finetuned copy (the model itself is untouched) and the mean loss of every epoch."""
    if recipe.optimizer not in OPTIMIZERS:
        raise TrajectoryError(f"finetune optimizer must be one of {', '.join(OPTIMIZERS)}, got {recipe.optimizer!r}")
    trained = {id(p) for p in trained_parameters(model, recipe.train)}
    # Frozen tensors are shared, not copied (a 7B model's copy would be another 28 GB); frozen() keeps them
    # (they are the model's own) out of the gradient and restores the model's flags after.
    shared = {id(p): p for p in model.parameters() if id(p) not in trained}
    shared |= {id(b): b for b in model.buffers()}
    with frozen(model):
        tuned = copy.deepcopy(model, memo=dict(shared))
        params = trained_parameters(tuned, recipe.train)
        for p in params:
            p.requires_grad_(True)
        optimizer = (
            torch.optim.Adam(params, lr=recipe.learning_rate, weight_decay=0.0)
            if recipe.optimizer == "adam"
            else torch.optim.SGD(params, lr=recipe.learning_rate)
        )
        device = next(model.parameters()).device
        ids, mask, labels = (t.to(device) for t in answer_examples(tokenizer, facts))
        generator = torch.Generator().manual_seed(recipe.seed)
        losses = []
        tuned.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(facts), generator=generator)
            total = 0.0
            for start in range(0, len(facts), recipe.batch_size):
                rows = order[start : start + recipe.batch_size].to(device)
                loss = tuned(input_ids=ids[rows], attention_mask=mask[rows], labels=labels[rows]).loss
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                total += float(loss.detach()) * len(rows)
            losses.append(total / len(facts))
        tuned.eval()
        for p in params:
            p.requires_grad_(False)
    return tuned, losses
