"""Threshold-free circuits: components ranked by their IFR importance, and the faithfulness of the top k kept
with the rest ablated, for k over a grid (pure math here; the ablation stage runs the rows)."""
