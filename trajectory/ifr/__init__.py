"""Information Flow Routes: contributions, circuits and the public ``trace()``."""

from trajectory.ifr.trace import IFRResult, trace

__all__ = ["IFRResult", "trace"]
