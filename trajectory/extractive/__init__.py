"""Extractive structures (Feng, Russell & Steinhardt 2024; METHOD.md §6): informative, upstream and
downstream scores of a weight update, and the out-of-context two-hop experiment.

Layers: ``scores`` (pure tensor math), ``measure`` (the passes over a model pair, through
``trajectory.models.taps``), ``prompts`` / ``ocr`` (probe sets), ``finetune``, ``stage`` (a revision's tables).
"""

from trajectory.extractive.measure import UpdateScores, score_update

__all__ = ["UpdateScores", "score_update"]
