"""The answer's rank under the logit lens, per fact and layer: pure tensors in, tensors out.

For the residual stream y after layer l, read through the model's final norm and unembedding, the rank
of the fact's first answer token (0 = top-1) at the last prompt token, and the best (lowest) rank over
the subject's tokens: does the subject's representation carry the answer before the last token does?
:class:`AnswerLens` collects both from the IFR pass, chunk by chunk (``observe`` is its per-layer hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from trajectory.prompts import EncodedProbes, vocabulary_ranks


@dataclass
class AnswerLens:
    """The positions read, flat over prompts: prompt [K], position [K], is_last [K] bool (else a subject
    token), target [K] (the prompt's first answer token); ranks filled per layer: rank_last [B, L],
    rank_subject [B, L] (−1 until observed)."""

    prompt: torch.Tensor
    position: torch.Tensor
    is_last: torch.Tensor
    target: torch.Tensor
    rank_last: torch.Tensor
    rank_subject: torch.Tensor

    @classmethod
    def of(cls, encoded: EncodedProbes, n_layers: int) -> "AnswerLens":
        prompt, position, is_last, target = [], [], [], []
        for b, (subject, answer) in enumerate(zip(encoded.subject_positions, encoded.answer_positions)):
            first = answer[0]
            for p, last in [(first - 1, True), *((s, False) for s in subject)]:
                prompt.append(b), position.append(p), is_last.append(last), target.append(int(encoded.input_ids[b, first]))
        n = len(encoded.facts)
        return cls(
            torch.tensor(prompt),
            torch.tensor(position),
            torch.tensor(is_last),
            torch.tensor(target),
            torch.full((n, n_layers), -1),
            torch.full((n, n_layers), -1),
        )

    def observe(self, rows: torch.Tensor, layer: int, hidden: torch.Tensor, readout: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """One chunk's residual stream after ``layer``: rows [b] (the chunk's prompt indices), hidden [b, T', d]."""
        chunk_row = torch.full((len(self.rank_last),), -1)
        chunk_row[rows] = torch.arange(len(rows))
        picked = chunk_row[self.prompt] >= 0
        device = hidden.device
        read = hidden[chunk_row[self.prompt[picked]].to(device), self.position[picked].to(device)]  # [k, d]
        ranks = vocabulary_ranks(readout(read), self.target[picked].to(device)).cpu()
        prompts, last = self.prompt[picked], self.is_last[picked]
        self.rank_last[prompts[last], layer] = ranks[last]
        best = torch.full((len(self.rank_last),), torch.iinfo(torch.long).max)
        best.scatter_reduce_(0, prompts[~last], ranks[~last], reduce="amin")
        chunk = chunk_row >= 0
        self.rank_subject[chunk, layer] = torch.where(best == torch.iinfo(torch.long).max, -1, best)[chunk]
