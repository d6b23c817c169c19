"""Golden files of the shipped models: what each writes for the sample photo.

For every shipped model, `tests/expected/shipped_models.json` keeps the
SHA-256 of the `.tfgc` bytes it writes for `tfgancomp/samples/chelsea.png`
(the same on every CPU seen: the range coder codes integers), the PSNR of
the decoded pixels against the photo, and the SHA-256 of those pixels
(raw RGB bytes, so no PNG encoder is involved; for a model with the
realism knob, at realism 0 and at 1, whose grain is a fixed function of
the pixels' places) per platform: TensorFlow's
CPU kernels are deterministic for a given build and instruction set, but
oneDNN's AVX2 and AVX-512 kernels round a few pixels differently. On a
platform without pinned pixels the PSNR, to 0.01 dB, stands in for them.

Regenerate on purpose (a new shipped model, or a deliberate format change),
or add this platform's pixels (models whose fingerprint is unchanged keep
the other platforms'):

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
# The pixels pinned per platform: decoded as by default, and at realism 1.
REALISTIC = "decoded_realism_1_sha256"
PIXELS = ("decoded_sha256", REALISTIC)


def digests(name: str, python: bool = False) -> dict:
    """The SHA-256 of the file shipped model `name` writes for the sample
    photo, and of the pixels decoded from it: with its exported
    SavedModels, or with `python` the in-memory Codec of their weights
    (coding with today's Python code, not the graphs traced when the model
    shipped)."""
    import numpy as np
    from PIL import Image

    import tfgancomp
    from tfgancomp.deploy import resolve, shipped
    from tfgancomp.evaluation.metrics import psnr
    photo = np.asarray(Image.open(shipped.SAMPLE_PHOTO).convert("RGB"))
    model = (resolve.load_codec(name) if python else
             tfgancomp.load_model(name))
    data = tfgancomp.compress(photo, model)

    def pixels(**knobs):
        return np.ascontiguousarray(tfgancomp.decompress(data, model,
                                                         **knobs))
    decoded = pixels()
    found = {"fingerprint": model.fingerprint().hex(),
             "tfgc_sha256": hashlib.sha256(data).hexdigest(),
             "tfgc_bytes": len(data),
             "decoded_psnr": round(float(psnr(photo, decoded)), 3),
             "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest()}
    if shipped.card(name)["config"].get("realism"):
        found[REALISTIC] = hashlib.sha256(
            pixels(realism=1.).tobytes()).hexdigest()
    return found


def platform_key() -> str:
    """The machine and the widest vector instructions oneDNN can use."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        flags = []
    isa = next((name for name, flag in (("avx512", "avx512f"),
                                        ("avx2", "avx2")) if flag in flags),
               "other")
    return f"{platform.machine()}-{isa}"


def pinned(found: dict, before: dict | None) -> dict:
    """A model's golden entry: `found` with its pixels under this platform,
    and other platforms' pixels kept while the model is the same."""
    same = before and before.get("fingerprint") == found["fingerprint"]
    entry = dict(found)
    for key in PIXELS:
        if key in found:
            pixels = dict(before.get(key, {})) if same else {}
            pixels[platform_key()] = found[key]
            entry[key] = dict(sorted(pixels.items()))
    return entry


def earlier(found: dict, before: dict | None, old: dict) -> dict | None:
    """The entry pinned for this very model: under its name (`before`), or
    under another name (a model since retired and renamed); else None."""
    return next((entry for entry in (before, *old.values()) if entry
                 and entry.get("fingerprint") == found["fingerprint"]), None)


def main() -> int:
    import tensorflow as tf

    from tfgancomp.deploy import shipped
    old = (json.loads(EXPECTED.read_text())["models"]
           if EXPECTED.exists() else {})
    document = {
        "about": "tests/golden.py: each shipped model's fingerprint, the "
                 "SHA-256 of its .tfgc for the sample photo, the PSNR of "
                 "the decoded pixels and their SHA-256 per platform",
        "tensorflow": tf.__version__,
        "models": {},
    }
    for name in shipped.shipped_models():
        found = digests(name)
        document["models"][name] = pinned(
            found, earlier(found, old.get(name), old))
    EXPECTED.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
