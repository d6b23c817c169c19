"""The directories a model can live in, told apart without TensorFlow.

    model directory   model.json + weights (deploy.store), also a run's model/
    training run      config.json + checkpoints/ (+ model/ once finished)
    export            encoder/VERSION/, decoder/VERSION/ SavedModels
                      (deploy.savedmodel), each with assets/tfgancomp.json
"""

from __future__ import annotations

from pathlib import Path

MODEL_METADATA = "model.json"
RUN_CONFIG = "config.json"
RUN_CHECKPOINTS = "checkpoints"
RUN_MODEL = "model"
RUN_SUMMARIES = "train"  # the training batches' TensorBoard events
SIDES = ("encoder", "decoder")
SAVED_MODEL = "saved_model.pb"
IDENTITY = "tfgancomp.json"


def is_model_dir(path: Path) -> bool:
    return (path / MODEL_METADATA).is_file()


def is_run_dir(path: Path) -> bool:
    return (path / RUN_CONFIG).is_file() and (
        (path / RUN_CHECKPOINTS).is_dir() or is_model_dir(path / RUN_MODEL))


def is_version_dir(path: Path) -> bool:
    """One SavedModel of an export (finished or not)."""
    return (path / SAVED_MODEL).exists() or (
        path / "assets" / IDENTITY).exists()


def is_export(path: Path) -> bool:
    """An export, one side of it, or one version of one side."""
    return (is_version_dir(path) or path.name in SIDES
            or (path.name.isdigit() and path.parent.name in SIDES)
            or any((path / side).is_dir() for side in SIDES))
