"""Information Flow Routes: contributions, circuits and the public ``trace()``.

Sequential blocks (OLMo, OLMo-2, Llama, GPT-NeoX with ``use_parallel_residual = false``) follow METHOD.md §3:
two wholes per layer, m_i = x_i + Σ_{j≤i,h} a^h_ij f^h_j and y_i = m_i + FFN_i, and the graph
I_{l−1,j} → A_{l,i} → M_{l,i} → I_{l,i} (with A_{l,i} → I_{l,i} for the FFN's residual).

Parallel blocks (GPT-NeoX / Pythia, ``use_parallel_residual = true``: y_i = x_i + attn(ln₁ x)_i + mlp(ln₂ x)_i)
have no m_i: the model never forms x + attention, and neither branch comes first. So:

- Wholes and parts: one whole per (layer, target i), the layer output y_i, with the parts
  {a^h_ij f^h_j for j ≤ i and every head h}, the residual x_i + b_O, and FFN_i. They sum exactly to y_i.
  Each part's proximity is taken to y_i, and all are normalised together: c_attn[l, i, j, h],
  c_res[l, i] and c_ffn[l, i] sum to 1. Thresholding zeroes every part ≤ τ and divides the survivors by
  their sum, per target, over all three kinds together (the FFN is one more part of the same whole).
- The output projection's bias b_O depends on no source position; it joins the residual part (as in
  sequential blocks with a bias). Biases inside the values (the query-key-value projection's, the
  LayerNorm's) travel with their source position's value, so they stay in that source's part f^h_j. The
  FFN's biases are inside FFN_i.
- Graph: nodes X0_i, M_{l,i}, I_{l,i} (no A node). Edges I_{l−1,j} → I_{l,i} with weight Σ_h c_attn[l, i, j, h]
  (+ c_res[l, i] when j = i); I_{l−1,i} → M_{l,i} and M_{l,i} → I_{l,i}, both with c_ffn[l, i]: the FFN
  reads the layer input I_{l−1,i}, not the attention's output. Circuits and activity are defined as in
  §3 on this graph: head (l, h) is active when an attention edge into a reached I_{l,i} has its own part
  c_attn[l, i, j, h] > 0; FFN l when a reached I_{l,i} has c_ffn[l, i] > τ.
- ``ffn_renormalisation = "llm-tt"`` (llm-transparency-tool's helper, for sequential FFN blocks) is refused for parallel
  blocks; ``IFRResult.ffn_residual`` there holds the rest of the block, Σ c_attn + c_res.
"""

from trajectory.ifr.trace import IFRResult, Variant, trace, trace_variants

__all__ = ["IFRResult", "Variant", "trace", "trace_variants"]
