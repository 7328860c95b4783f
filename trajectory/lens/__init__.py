"""Where the answer appears: the logit lens at the last prompt token and the subject's tokens (issue #16)."""
