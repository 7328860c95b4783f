"""Where each supported architecture keeps the pieces IFR needs, and how its branches are scaled.

Supported (tested against the Hugging Face modules): OLMo (non-parametric LayerNorm, clip_qkv),
OLMo-2 (norms on the branch outputs), Llama family (GQA), GPT-NeoX / Pythia (parallel residual or not,
biases everywhere, partial rotary). Anything else is refused by name: silent wrong numbers are worse than
no numbers.

Biases. A bias inside a head's value (the q/k/v projection's, a LayerNorm's) travels with the value of
its source position, so it stays in that source's part. The attention output projection's bias depends
on no source position: it is assigned to the residual part (x_i + b_O), so the parts still sum exactly
to the whole. An FFN's biases are inside the FFN's output, one part. A bias the decomposition cannot place
(an output bias inside a post-branch norm) is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from trajectory.errors import TrajectoryError

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@dataclass(frozen=True)
class Architecture:
    name: str
    post_norm: bool  # branch outputs pass through an RMSNorm before joining the residual (OLMo-2)
    attn_norm: str | None = None  # layer attribute of the attention branch's output norm
    ffn_norm: str | None = None  # layer attribute of the FFN branch's output norm
    attention: str = "self_attn"  # layer attribute of the attention module
    out_proj: str = "o_proj"  # the attention module's output projection
    # Attention and FFN both read the layer input: y = x + attn(ln₁ x) + ffn(ln₂ x) (GPT-NeoX
    # use_parallel_residual); set per model from its config.
    parallel: bool = False
    final_norm: str = "norm"  # the base model's norm before the unembedding


ARCHITECTURES: dict[str, Architecture] = {
    "OlmoForCausalLM": Architecture("OLMo", post_norm=False),
    "Olmo2ForCausalLM": Architecture("OLMo-2", post_norm=True, attn_norm="post_attention_layernorm", ffn_norm="post_feedforward_layernorm"),
    "LlamaForCausalLM": Architecture("Llama", post_norm=False),
    "GPTNeoXForCausalLM": Architecture("GPT-NeoX", post_norm=False, attention="attention", out_proj="dense", final_norm="final_layer_norm"),
}


def architecture_of(model: torch.nn.Module) -> Architecture:
    name = type(model).__name__
    if name not in ARCHITECTURES:
        raise TrajectoryError(f"unsupported architecture {name}: Information Flow Routes are implemented for {', '.join(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    if name == "GPTNeoXForCausalLM":
        architecture = replace(architecture, parallel=bool(model.config.use_parallel_residual))
    if architecture.post_norm and any(out_projection(layer, architecture).bias is not None for layer in decoder_layers(model)):
        raise TrajectoryError(
            f"{name} with an output-projection bias is not supported: the bias sits inside the branch's output norm, so no part can hold it"
        )
    return architecture


def context_length(config: PretrainedConfig) -> int | None:
    """The longest input the model's positions cover (None when its config does not say)."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    return model.base_model.layers


def attention_module(layer: torch.nn.Module, architecture: Architecture) -> torch.nn.Module:
    return getattr(layer, architecture.attention)


def out_projection(layer: torch.nn.Module, architecture: Architecture) -> torch.nn.Linear:
    return getattr(attention_module(layer, architecture), architecture.out_proj)


def readout(model: torch.nn.Module, architecture: Architecture) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's own last steps, final norm then unembedding, for any residual stream: [K, d] -> [K, V]
    float32 logits (the logit lens). Computed in the model's dtype, as its forward computes the real logits."""
    norm = getattr(model.base_model, architecture.final_norm)
    head = model.get_output_embeddings()
    return lambda hidden: head(norm(hidden.to(head.weight.dtype))).float()


def rms_scale(hidden: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    """Per-position factor 1/rms(o) of an RMSNorm, computed as the HF module does (in float32).

    hidden [B, T, d] -> [B, T]. With the norm's weight w, norm(o) = w ⊙ o · factor, which is
    linear in o for a fixed position: that keeps the decomposition of a post-norm branch exact.
    """
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    return torch.rsqrt(hidden.float().pow(2).mean(-1) + eps)
