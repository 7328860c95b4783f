"""The logit lens from the IFR pass against a literal one: per prompt, layer and position, the layer's
output through the final norm and unembedding, the answer's rank counted token by token."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from test_ifr_models import batch, tiny
from test_ifr_neox import tiny_neox

from trajectory.ifr import Variant, trace_variants
from trajectory.lens.answer import AnswerLens
from trajectory.models.architectures import architecture_of, decoder_layers, readout
from trajectory.prompts import vocabulary_ranks


def probes(ids, mask):
    """Prompt b's answer starts at its last real token; its 'subject' is positions 1..2."""
    lengths = mask.sum(1).tolist()
    return SimpleNamespace(
        facts=list(range(len(lengths))), input_ids=ids, subject_positions=[[1, 2] for _ in lengths], answer_positions=[[n - 1] for n in lengths]
    )


@torch.no_grad()
def literal_lens(model, encoded):
    outputs = []
    handles = [
        layer.register_forward_hook(lambda m, a, out: outputs.append(out[0] if isinstance(out, tuple) else out)) for layer in decoder_layers(model)
    ]
    model(input_ids=encoded.input_ids, attention_mask=torch.ones_like(encoded.input_ids))
    for handle in handles:
        handle.remove()
    norm = getattr(model.base_model, architecture_of(model).final_norm)
    head = model.get_output_embeddings()

    def rank(b, layer, position):
        logits = head(norm(outputs[layer][b, position]))
        target = int(encoded.input_ids[b, encoded.answer_positions[b][0]])
        return sum(int(logits[v] > logits[target]) for v in range(logits.shape[0]))

    n, layers = len(encoded.facts), len(outputs)
    last = torch.tensor([[rank(b, l, encoded.answer_positions[b][0] - 1) for l in range(layers)] for b in range(n)])
    subject = torch.tensor([[min(rank(b, l, p) for p in encoded.subject_positions[b]) for l in range(layers)] for b in range(n)])
    return last, subject


@pytest.mark.parametrize("make", [lambda: tiny("olmo"), lambda: tiny("llama"), lambda: tiny_neox(True)])
def test_lens_from_the_ifr_pass_equals_the_literal_lens(make):
    model = make()
    ids, mask = batch()
    encoded = probes(ids, mask)
    lens = AnswerLens.of(encoded, model.config.num_hidden_layers)
    read = readout(model, architecture_of(model))
    with_lens = trace_variants(model, ids, mask, [Variant()], batch_size=2, on_layer_output=lambda r, l, y: lens.observe(r, l, y, read))
    last, subject = literal_lens(model, encoded)
    assert torch.equal(lens.rank_last, last) and torch.equal(lens.rank_subject, subject)
    assert len(set(last.flatten().tolist())) > 3  # not vacuous: ranks vary
    # The last layer at the last prompt token is the model's own prediction of the answer.
    logits = model(input_ids=ids, attention_mask=mask).logits
    for b, answer in enumerate(encoded.answer_positions):
        assert lens.rank_last[b, -1] == vocabulary_ranks(logits[b, answer[0] - 1], ids[b, answer[0]])
    # Observing changes nothing of the trace.
    alone = trace_variants(model, ids, mask, [Variant()], batch_size=2)
    assert torch.equal(with_lens[Variant()].heads, alone[Variant()].heads)
