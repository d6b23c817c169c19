"""Which model the user means: the one resolver of the command, the API,
evaluation, export and training's warm start.

Precedence, written once:

1. nothing: the default shipped model;
2. an existing directory, which wins over a shipped model of the same
   name: an export (both sides, one side, or one version of a side); a
   model directory (`model.json`); a training run (its `model/` once
   written, else its latest checkpoint);
3. the name of a shipped model.

Anything else is a `ModelError` that names the shipped models. Resolving
does not import TensorFlow; loading does.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tfgancomp.deploy import layout, shipped
from tfgancomp.errors import ModelError

EXPORT, MODEL, RUN = "export", "model", "run"


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where a model lives: an export, a model directory or a run."""
    kind: str
    path: Path
    shipped_name: str | None = None

    def __str__(self) -> str:
        return self.shipped_name or str(self.path)


def resolve(model: str | os.PathLike | None) -> ModelSource:
    """The model meant by a path, a shipped model's name, or None."""
    if model is None:
        if shipped.DEFAULT_MODEL not in shipped.shipped_models():
            raise ModelError(
                f"no model given, and the default model "
                f"'{shipped.DEFAULT_MODEL}' is not installed: pass a model "
                "directory written by train/train.py or export/export.py")
        model = shipped.DEFAULT_MODEL
    path = Path(model)
    if path.is_dir():
        return _classify(path)
    if str(model) in shipped.shipped_models():
        return ModelSource(EXPORT, shipped.shipped_path(str(model)),
                           str(model))
    names = ", ".join(shipped.shipped_models()) or "none"
    raise ModelError(f"model not found: {model} is neither a directory nor "
                     f"a shipped model (shipped: {names})")


def _classify(path: Path) -> ModelSource:
    if layout.is_model_dir(path):
        return ModelSource(MODEL, path)
    if layout.is_run_dir(path):
        if layout.is_model_dir(path / layout.RUN_MODEL):
            return ModelSource(MODEL, path / layout.RUN_MODEL)
        return ModelSource(RUN, path)
    if layout.is_export(path):
        return ModelSource(EXPORT, path)
    raise ModelError(
        f"{path} is not a tfgancomp model: no {layout.MODEL_METADATA}, no "
        f"training run ({layout.RUN_CONFIG} and {layout.RUN_CHECKPOINTS}/), "
        "no encoder/ or decoder/ export")


def load(model: str | os.PathLike | ModelSource | None):
    """A `CodingModel` ready to code: exports load as SavedModels (fast, no
    tracing), model directories and runs as an in-memory `Codec`."""
    source = model if isinstance(model, ModelSource) else resolve(model)
    if source.kind == EXPORT:
        from tfgancomp.deploy.exported import load_export
        return _with_lambda(load_export(source.path), source)
    return load_codec(source)


def _with_lambda(model, source: ModelSource):
    """Shipped models made before exports recorded λ: their preset's."""
    if model.lmbda is None and source.shipped_name is not None:
        model.lmbda = shipped.training_lambda(source.shipped_name)
    return model


def load_codec(model: str | os.PathLike | ModelSource | None):
    """The in-memory `Codec` of any model, tables fixed: what training
    warm-starts from and what export and refinement need."""
    source = model if isinstance(model, ModelSource) else resolve(model)
    if source.kind == MODEL:
        from tfgancomp.deploy.store import load_codec as load_model_dir
        return load_model_dir(source.path)
    if source.kind == RUN:
        from tfgancomp.training.checkpoints import latest_codec
        return latest_codec(source.path)[0]
    from tfgancomp.deploy.exported import load_export
    from tfgancomp.deploy.warm_start import codec_of_export
    return _with_lambda(codec_of_export(load_export(source.path)), source)


def for_header(model_name: str, fingerprint: bytes):
    """The shipped model that decodes a .tfgc file whose header names
    `model_name` and `fingerprint`, loaded (`shipped.reader_of`)."""
    name = shipped.reader_of(model_name, fingerprint)
    if name is None:
        raise ModelError(
            f"the file was written by model '{model_name}', which is not "
            f"shipped with tfgancomp: pass its directory")
    return load(name)
