"""Ablations for causal checks of circuits and roles (issue #16): masks (pure) apart from the hooks."""
