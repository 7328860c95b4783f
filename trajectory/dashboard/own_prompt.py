"""Your own prompt's route graph at a stored revision, for ``trajectory serve``: the model loaded through the
analysis's pipeline (from its cache, as the ingest loaded it) and kept for the next request; one trace at a
time; a length limit; every failure one line for the page."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from trajectory.errors import TrajectoryError
from trajectory.seeds import repo_seed

MAX_PROMPT_TOKENS = 64  # the page's limit: a route graph past this is unreadable, and tracing it slow on a CPU


@dataclass
class _Loaded:
    key: tuple[str, str]
    model: torch.nn.Module
    tokenizer: object


class PromptTracer:
    """Traces prompts for the analyses of one store; holds at most one model (the last one asked for)."""

    def __init__(self, analyses: dict[str, dict]) -> None:
        """``analyses``: analysis_id -> its row (pipeline, tau, ffn_renormalisation, dtype, revisions)."""
        self.analyses = analyses
        self.lock = threading.Lock()
        self.loaded: _Loaded | None = None

    def _model(self, analysis_id: str, revision: str) -> _Loaded:
        from trajectory.config import load_pipeline
        from trajectory.pipeline.sources import cache_source

        key = (analysis_id, revision)
        if self.loaded is not None and self.loaded.key == key:
            return self.loaded
        row = self.analyses[analysis_id]
        if not row.get("pipeline"):
            raise TrajectoryError("this analysis has no recorded pipeline to load its model from")
        config = load_pipeline(row["pipeline"])
        base, seed = repo_seed(row["model"])
        if seed and config.model.suite and base == config.repo_id:  # another seed of the pipeline's reference: that model
            config = config.with_seed(seed)
        if config.repo_id != row["model"]:
            raise TrajectoryError(f"pipeline {row['pipeline']!r} now reads {config.repo_id}, not this analysis's {row['model']}")
        self.loaded = None  # free the previous model before loading the next
        model, tokenizer = cache_source(config).load(revision, dtype=row["dtype"], device="cpu")
        self.loaded = _Loaded(key, model, tokenizer)
        return self.loaded

    def trace(self, analysis_id: str, revision: str, prompt: str) -> dict:
        """The route graph of ``prompt``'s last token and the model's top next tokens, in the routes page's form."""
        from trajectory.dashboard.routes_page import encode_edges
        from trajectory.ifr import trace
        from trajectory.pipeline.frames import route_frame, token_texts

        if analysis_id not in self.analyses:
            raise TrajectoryError(f"unknown analysis {analysis_id!r}")
        row = self.analyses[analysis_id]
        if revision not in row["revisions"]:
            raise TrajectoryError(f"revision {revision!r} is not stored for this analysis")
        if not prompt.strip():
            raise TrajectoryError("type a prompt first")
        if not self.lock.acquire(blocking=False):
            raise TrajectoryError("another prompt is being traced; try again in a moment")
        try:
            loaded = self._model(analysis_id, revision)
            ids = loaded.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
            if ids.shape[1] == 0:
                raise TrajectoryError("the prompt has no tokens")
            if ids.shape[1] > MAX_PROMPT_TOKENS:
                raise TrajectoryError(f"the prompt has {ids.shape[1]} tokens; the limit is {MAX_PROMPT_TOKENS}")
            result = trace(
                loaded.model,
                ids,
                threshold=row["tau"],
                ffn_renormalisation=row["ffn_renormalisation"],
                return_attn=False,
                route_roots=torch.tensor([ids.shape[1] - 1]),
            )
            with torch.no_grad():
                probabilities = loaded.model(input_ids=ids).logits[0, -1].float().softmax(-1)
            top = probabilities.topk(5)
        finally:
            self.lock.release()
        root = ids.shape[1] - 1
        edges = route_frame(result.routes, np.zeros(1, dtype=np.int32), np.array([root]))
        (tokens,) = token_texts(loaded.tokenizer, ids, [ids.shape[1]])
        return {
            "tokens": tokens,
            "root": root,
            "edges": encode_edges(edges),
            "top": [[loaded.tokenizer.decode([int(i)]), float(p)] for p, i in zip(top.values, top.indices)],
        }
