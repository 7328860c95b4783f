"""trajectory beside a training loop: a Hugging Face Trainer callback (trainer.py) and the headline measures written
to experiment trackers (trackers.py)."""


def __getattr__(name: str) -> type:
    if name == "TrajectoryCallback":  # transformers is imported only when the callback is used
        from trajectory.integrations.trainer import TrajectoryCallback

        return TrajectoryCallback
    raise AttributeError(name)
