"""trajectory: how factual-recall circuits form over a model's pretraining checkpoints."""

__version__ = "0.1.0"
