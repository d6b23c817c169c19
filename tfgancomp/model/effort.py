"""Effort levels of encoder-side refinement (see refine.py), known
without importing TensorFlow."""

from __future__ import annotations

from tfgancomp.errors import ConfigError

# Adam steps per effort level; 0 is the analysis transform's single pass.
EFFORT_STEPS = (0, 40, 150, 500)


def steps_of(effort: int) -> int:
    """The optimisation steps of an effort level; ConfigError if unknown."""
    if isinstance(effort, bool) or not isinstance(effort, int) or not (
            0 <= effort < len(EFFORT_STEPS)):
        raise ConfigError(f"effort must be an integer from 0 to "
                          f"{len(EFFORT_STEPS) - 1}, got {effort!r}")
    return EFFORT_STEPS[effort]
