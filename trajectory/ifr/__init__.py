"""Information Flow Routes: contributions, circuits and the public ``trace()``."""

from trajectory.ifr.trace import IFRResult, Variant, trace, trace_variants

__all__ = ["IFRResult", "Variant", "trace", "trace_variants"]
