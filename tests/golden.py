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


def digests(name: str, python: bool = False) -> dict:
    """The SHA-256 of the file shipped model `name` writes for the sample
    photo, and of the pixels decoded from it: with its exported
    SavedModels, or with `python` the in-memory Codec of their weights
    (coding with today's Python code, not the graphs traced when the model
    shipped)."""
    import numpy as np
    from PIL import Image

    import tfgancomp
    from tfgancomp.deploy import shipped
    photo = np.asarray(Image.open(shipped.SAMPLE_PHOTO).convert("RGB"))
    from tfgancomp.deploy import resolve
    model = (resolve.load_codec(name) if python else
             tfgancomp.load_model(name))
    data = tfgancomp.compress(photo, model)
    decoded = np.ascontiguousarray(tfgancomp.decompress(data, model))
    return {"tfgc_sha256": hashlib.sha256(data).hexdigest(),
            "tfgc_bytes": len(data),
            "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest()}


def main() -> int:
    import tensorflow as tf

    from tfgancomp.deploy import shipped
    document = {
        "about": "tests/golden.py: SHA-256 of each shipped model's .tfgc "
                 "for the sample photo and of its decoded RGB pixels",
        "platform": {"machine": platform.machine(),
                     "tensorflow": tf.__version__,
                     "python": platform.python_version()},
        "models": {name: digests(name) for name in shipped.shipped_models()},
    }
    EXPECTED.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
