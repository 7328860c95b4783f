"""Answer ranks under many graft configurations at once, the prefix computed once per distinct graft.

Prompts are left-aligned (every prompt's last token at position T − 1; positions ids count real tokens
only, so a prompt's numbers do not depend on its padding). Configurations whose grafts agree on every
position but the last (all LT-only grafts share the recipient's prefix; FE and FE+LT share one; the
complements share one) share one prefix pass whose keys and values go to a KV cache; each
configuration then runs its last token alone against its group's cache. With the default
configurations that is 4 prefix passes (A's own, B's own, which also gives B alone, the FE one and the
complements' one) and 4 one-token steps instead of 20 full passes; exactly what a full pass per
configuration gives (tests), as the last token is the only one a last-token graft touches.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from trajectory.errors import TrajectoryError
from trajectory.graft_names import GraftConfig
from trajectory.grafting.configs import build_graft
from trajectory.grafting.graft import Graft, grafted
from trajectory.prompts import RewardBatch, vocabulary_ranks


@dataclass
class GraftPrompts:
    """B prompts, left-padded to T tokens: the last prompt token (LT, which predicts the answer) at T − 1."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T] 1 for real tokens
    subject: torch.Tensor  # [B, T] bool, the subject's tokens (FE)
    answer: torch.Tensor  # [B] first token of " " + answer

    @property
    def position_ids(self) -> torch.Tensor:
        return (self.attention_mask.cumsum(1) - 1).clamp(min=0)

    def select(self, rows: torch.Tensor) -> "GraftPrompts":
        """The prompts ``rows``, their leading columns of padding only cut."""
        length = int(self.attention_mask[rows].sum(1).max())
        return GraftPrompts(*(t[rows][:, -length:] for t in (self.input_ids, self.attention_mask, self.subject)), self.answer[rows])

    def to(self, device: torch.device | str) -> "GraftPrompts":
        return GraftPrompts(**{k: v.to(device) for k, v in vars(self).items()})


def left_aligned(batch: RewardBatch) -> GraftPrompts:
    """A right-padded reward batch, each row rolled so that its last token is at T − 1."""
    _, length = batch.input_ids.shape
    shift = length - batch.attention_mask.sum(1)  # [B]
    positions = torch.arange(length)[None]
    source = (positions - shift[:, None]) % length
    subject = (positions >= (batch.subject_start + shift)[:, None]) & (positions < (batch.subject_end + shift)[:, None])
    return GraftPrompts(batch.input_ids.gather(1, source), batch.attention_mask.gather(1, source), subject, batch.answer)


def prefix_groups(graft: Graft, configs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(group of each configuration [C], first configuration of each group [G]): configurations whose
    masks agree on every position but the last share a group. Rows of ``graft`` are configuration-major."""
    stacked = torch.stack([*graft.masks.values(), graft.embedding])  # [K, C·B, T]
    prefix = stacked[..., :-1].reshape(stacked.shape[0], configs, -1).transpose(0, 1).reshape(configs, -1)
    _, group = torch.unique(prefix.to(torch.uint8), dim=0, return_inverse=True)
    first = torch.full((int(group.max()) + 1,), configs).scatter_reduce(0, group, torch.arange(configs), "amin")
    return group, first


def _rows(graft: Graft, configs: torch.Tensor, batch: int, columns: slice) -> Graft:
    """The graft of ``configs`` only, at ``columns``: [len(configs)·B, T'] masks from configuration-major [C·B, T]."""

    def cut(mask: torch.Tensor) -> torch.Tensor:
        per_config = mask.reshape(-1, batch, mask.shape[1])[configs][:, :, columns]
        return per_config.reshape(-1, per_config.shape[-1])

    return Graft({k: cut(m) for k, m in graft.masks.items()}, cut(graft.embedding))


def _complement(graft: Graft, valid: torch.Tensor) -> Graft:
    """Where the graft keeps the recipient's weights (real positions only)."""
    return Graft({k: valid & ~m for k, m in graft.masks.items()}, valid & ~graft.embedding)


def _size(graft: Graft) -> int:
    return sum(int(m.sum()) for m in (*graft.masks.values(), graft.embedding))


@torch.no_grad()
def last_token_logits(
    recipient: torch.nn.Module, donor: torch.nn.Module, prompts: GraftPrompts, configs: list[GraftConfig]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the logits at the last token under each configuration [C, B, V], under the donor alone [B, V]).

    Recipient A computes, with donor B's weights where grafted. Per group of configurations sharing a
    prefix graft: one prefix pass into a KV cache, then one one-token step for all its configurations. A
    prefix that is all B's is B's own pass (no hooks), which gives B alone its logits as well; a prefix
    mostly B's is B's pass with A's weights grafted where the graft keeps them (the same computation)."""
    batch, length = prompts.input_ids.shape
    if length < 2:
        raise TrajectoryError("grafting needs prompts of at least two tokens (a prefix and the last token)")
    device = prompts.input_ids.device
    valid = prompts.attention_mask.bool().cpu()
    last = torch.zeros_like(valid)
    last[:, -1] = True
    graft = build_graft(configs, prompts.subject.cpu(), last, valid, recipient.config.num_hidden_layers)
    group, first = prefix_groups(graft, len(configs))
    prefix, tail = slice(0, length - 1), slice(length - 1, length)
    inputs = {"input_ids": prompts.input_ids, "attention_mask": prompts.attention_mask, "position_ids": prompts.position_ids}
    step = {"input_ids": inputs["input_ids"][:, tail], "attention_mask": inputs["attention_mask"], "position_ids": inputs["position_ids"][:, tail]}
    logits = torch.empty(len(configs), batch, recipient.config.vocab_size, device=device)
    donor_alone = None
    for g, representative in enumerate(first.tolist()):
        cache = DynamicCache(config=recipient.config)
        prefix_graft = _rows(graft, torch.tensor([representative]), batch, prefix)
        kept = _complement(prefix_graft, valid[:, prefix])
        if donor_alone is None and _size(kept) == 0:
            # B's own pass over the whole prompt: B alone's logits, and (the last token cropped) the prefix cache.
            donor_alone = donor(**inputs, **cache_kwargs(cache), logits_to_keep=1).logits[:, -1]
            cache.crop(-1)
        else:
            # A prefix pass needs no unembedding: run the model whose weights hold most positions, the other grafted in.
            base, other, where = (donor, recipient, kept) if _size(kept) < _size(prefix_graft) else (recipient, donor, prefix_graft)
            with grafted(base, other, where):
                base(**{k: v[:, prefix] for k, v in inputs.items()}, **cache_kwargs(cache), logits_to_keep=1)
        members = torch.nonzero(group == g)[:, 0]
        cache.reorder_cache(torch.arange(batch, device=device).repeat(len(members)))  # configuration-major rows
        with grafted(recipient, donor, _rows(graft, members, batch, tail)):
            out = recipient(**{k: v.repeat(len(members), 1) for k, v in step.items()}, **cache_kwargs(cache)).logits
        logits[members.to(device)] = out[:, -1].reshape(len(members), batch, -1).float()
    if donor_alone is None:
        donor_alone = donor(**inputs, logits_to_keep=1).logits[:, -1]
    return logits, donor_alone.float()


def cache_kwargs(cache: DynamicCache) -> dict:
    """The KV cache as the installed transformers takes it: ``cache=`` (``past_key_values=`` before 5.2x, which
    newer versions still accept with a FutureWarning)."""
    return {_CACHE_ARGUMENT: cache, "use_cache": True}


def _cache_argument() -> str:
    from transformers import OlmoForCausalLM

    return "cache" if "cache" in inspect.signature(OlmoForCausalLM.forward).parameters else "past_key_values"


_CACHE_ARGUMENT = _cache_argument()


def graft_ranks(
    recipient: torch.nn.Module, donor: torch.nn.Module, prompts: GraftPrompts, configs: list[GraftConfig]
) -> tuple[torch.Tensor, torch.Tensor]:
    """([C, B] the answer's rank under each configuration, [B] under the donor alone)."""
    logits, donor_alone = last_token_logits(recipient, donor, prompts, configs)
    ranks = vocabulary_ranks(logits.flatten(0, 1), prompts.answer.repeat(len(configs))).reshape(len(configs), -1)
    return ranks, vocabulary_ranks(donor_alone, prompts.answer)


def ranks_in_chunks(
    recipient: torch.nn.Module, donor: torch.nn.Module, prompts: GraftPrompts, configs: list[GraftConfig], batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(graft ranks [C, B], the donor's own ranks [B]) over chunks of ``batch_size`` prompts of similar length."""
    order = torch.argsort(prompts.attention_mask.sum(1).cpu(), stable=True)
    grafts = torch.empty(len(configs), len(order), dtype=torch.long)
    donors = torch.empty(len(order), dtype=torch.long)
    for chunk in order.split(batch_size):
        part = prompts.select(chunk.to(prompts.input_ids.device))
        grafts[:, chunk], donors[chunk] = (r.cpu() for r in graft_ranks(recipient, donor, part, configs))
    return grafts, donors
