"""Golden files of the shipped models: what each writes for the sample photo.

For every shipped model, `tests/expected/shipped_models.json` keeps the
SHA-256 of the `.tfgc` bytes it writes for `tfgancomp/samples/chelsea.png`
and of the decoded pixels (raw RGB bytes, so no PNG encoder is involved).
Same platform, same bytes: TensorFlow's CPU kernels are deterministic for
a given build and instruction set, but another CPU family or TensorFlow
build may round differently. The file records where it was made.

Regenerate on purpose (a new shipped model, or a deliberate format change):

    python tests/golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXPECTED = Path(__file__).resolve().parent / "expected" / "shipped_models.json"


def python_codec(name: str):
    """The in-memory Codec of shipped model `name`, its weights and tables
    taken by name from the exported SavedModels: it codes with the Python
    code of today, not with the graphs traced when the model shipped."""
    import tensorflow as tf

    from tfgancomp import zoo
    from tfgancomp.codec import Codec
    from tfgancomp.config import ModelConfig
    directory = zoo.shipped_path(name)
    identity = json.loads(
        (directory / "encoder/1/assets/tfgancomp.json").read_text())
    codec = Codec(ModelConfig.from_dict(identity["config"]))
    codec.fix_tables(placeholders=True)
    saved = {v.name: v for side in ("encoder", "decoder") for v in
             tf.saved_model.load(str(directory / side / "1")).weights}
    for part in (codec.analysis, codec.hyper_analysis, codec.hyper_synthesis,
                 codec.synthesis, codec.entropy_model,
                 codec.side_entropy_model):
        for variable in part.variables:
            variable.assign(saved[variable.name])
    codec.model_name = identity["model_name"]
    return codec


def digests(name: str, python: bool = False) -> dict:
    """The SHA-256 of the file shipped model `name` writes for the sample
    photo, and of the pixels decoded from it: with its exported
    SavedModels, or with `python` the in-memory codec of its weights."""
    import numpy as np
    from PIL import Image

    import tfgancomp
    from tfgancomp import zoo
    photo = np.asarray(Image.open(zoo.SAMPLE_PHOTO).convert("RGB"))
    model = python_codec(name) if python else tfgancomp.load_model(name)
    data = tfgancomp.compress(photo, model)
    decoded = np.ascontiguousarray(tfgancomp.decompress(data, model))
    return {"tfgc_sha256": hashlib.sha256(data).hexdigest(),
            "tfgc_bytes": len(data),
            "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest()}


def main() -> int:
    import tensorflow as tf

    from tfgancomp import zoo
    document = {
        "about": "tests/golden.py: SHA-256 of each shipped model's .tfgc "
                 "for the sample photo and of its decoded RGB pixels",
        "platform": {"machine": platform.machine(),
                     "tensorflow": tf.__version__,
                     "python": platform.python_version()},
        "models": {name: digests(name) for name in zoo.shipped_models()},
    }
    EXPECTED.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
