"""The served models, loaded once at start and kept warm.

A model is named by what `tfgancomp.deploy.resolve` accepts (a shipped
name or a directory); clients name it by its model name (the one .tfgc
headers carry). The first served model is the default.
"""

from __future__ import annotations

import threading

import numpy as np

from tfgancomp import api
from tfgancomp.deploy import shipped
from tfgancomp.errors import ModelError
from tfgancomp.model.protocol import reads
from tfgancomp.serve import knobs


class UnknownModel(ModelError):
    """A client named a model this server does not serve."""


class ModelRegistry:
    def __init__(self, sources=()):
        self.sources = tuple(sources) or tuple(shipped.shipped_models())
        if not self.sources:
            raise ModelError("no models to serve: no shipped model is "
                             "installed; pass --models")
        self._models = {}  # model name -> loaded model
        self._lock = threading.Lock()

    def load(self, warm: bool = True) -> None:
        """Loads every model (both sides), and runs each once if `warm`."""
        with self._lock:
            for source in self.sources:
                model = api.load_model(source)
                if model.model_name in self._models:
                    raise ModelError(f"two served models are both named "
                                     f"'{model.model_name}'")
                self._models[model.model_name] = model
                if warm:
                    _warm(model)

    @property
    def names(self) -> list[str]:
        return list(self._models)

    @property
    def default(self) -> str:
        if not self._models:
            raise ModelError("no model is loaded yet")
        return next(iter(self._models))

    def get(self, name: str | None = None):
        """A served model by name (None: the default); UnknownModel."""
        name = name or self.default
        if name not in self._models:
            raise UnknownModel(f"unknown model '{name}' (served: "
                               f"{', '.join(self._models) or 'none'})")
        return self._models[name]

    def by_fingerprint(self, fingerprint: bytes):
        """The served model that reads files of this fingerprint (the one
        that wrote them first), or None."""
        models = sorted(self._models.values(),
                        key=lambda m: m.fingerprint() != fingerprint)
        return next((m for m in models if reads(m, fingerprint)), None)

    def describe(self, name: str) -> dict:
        """What GET /api/models says of one model: its knobs, and its
        card where it is a shipped one."""
        model = self.get(name)
        card = {}
        if name in shipped.shipped_models():
            card = shipped.card(name)
        return {
            "name": name, "default": name == self.default,
            "fingerprint": model.fingerprint().hex(),
            "description": card.get("description", ""),
            "knobs": knobs.knobs(model),
            "efforts": len(_effort_steps()),
            "card": card,
        }


def _effort_steps():
    from tfgancomp.model.effort import EFFORT_STEPS
    return EFFORT_STEPS


def _warm(model) -> None:
    """One compress and decompress: loads both SavedModels and traces
    whatever runs on first use."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    api.decompress(api.compress(image, model), model)
