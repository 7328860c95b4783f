"""Where each supported architecture keeps the pieces IFR needs, and how its branches are scaled.

Supported (tested against the Hugging Face modules): OLMo (non-parametric LayerNorm, clip_qkv),
OLMo-2 (norms on the branch outputs), Llama family (GQA). Anything else is refused by name: silent
wrong numbers are worse than no numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.errors import TrajectoryError


@dataclass(frozen=True)
class Architecture:
    name: str
    post_norm: bool  # branch outputs pass through an RMSNorm before joining the residual (OLMo-2)
    attn_norm: str | None = None  # layer attribute of the attention branch's output norm
    ffn_norm: str | None = None  # layer attribute of the FFN branch's output norm


ARCHITECTURES: dict[str, Architecture] = {
    "OlmoForCausalLM": Architecture("OLMo", post_norm=False),
    "Olmo2ForCausalLM": Architecture("OLMo-2", post_norm=True, attn_norm="post_attention_layernorm", ffn_norm="post_feedforward_layernorm"),
    "LlamaForCausalLM": Architecture("Llama", post_norm=False),
}


def architecture_of(model: torch.nn.Module) -> Architecture:
    name = type(model).__name__
    if name not in ARCHITECTURES:
        raise TrajectoryError(
            f"unsupported architecture {name}: Information Flow Routes are implemented for {', '.join(ARCHITECTURES)}"
        )
    for layer in decoder_layers(model):
        if getattr(layer.self_attn.o_proj, "bias", None) is not None:
            raise TrajectoryError(f"{name} with an output-projection bias is not supported (its parts would not sum to the whole)")
    return ARCHITECTURES[name]


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    return model.model.layers


def rms_scale(hidden: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    """Per-position factor 1/rms(o) of an RMSNorm, computed as the HF module does (in float32).

    hidden [B, T, d] -> [B, T]. With the norm's weight w, norm(o) = w ⊙ o · factor, which is
    linear in o for a fixed position: that keeps the decomposition of a post-norm branch exact.
    """
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    return torch.rsqrt(hidden.float().pow(2).mean(-1) + eps)
