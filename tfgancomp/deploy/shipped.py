"""The models shipped inside the package, found by name.

    tfgancomp/pretrained/NAME/encoder/1/   exported SavedModels (savedmodel.py)
    tfgancomp/pretrained/NAME/decoder/1/
    tfgancomp/pretrained/NAME/card.json    what `tfgancomp models` lists
    tfgancomp/pretrained/NAME/README.md    the model card
    tfgancomp/pretrained/NAME/rd.png       its rate-distortion plot, if given

Which model a user means is decided in resolve.py. Nothing here imports
TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfgancomp.errors import ModelError

PACKAGE = Path(__file__).resolve().parents[1]
PRETRAINED = PACKAGE / "pretrained"
DEFAULT_MODEL = "default"
# CC0, see samples/README.md.
SAMPLE_PHOTO = PACKAGE / "samples" / "chelsea.png"
CARD = "card.json"
PLOT = "rd.png"


def shipped_models() -> dict[str, Path]:
    """The shipped models by name, sorted, each its directory."""
    if not PRETRAINED.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED.iterdir())
            if (p / CARD).is_file()}


def card(name: str) -> dict:
    """The model card's facts (card.json) of a shipped model."""
    path = shipped_path(name) / CARD
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read {path}: {e}") from None


def shipped_path(name: str) -> Path:
    """The directory of a shipped model; ModelError naming the others."""
    models = shipped_models()
    if name not in models:
        raise ModelError(f"no shipped model named '{name}' (shipped: "
                         f"{', '.join(models) or 'none'})")
    return models[name]


def training_lambda(name: str) -> float | None:
    """The rate-distortion weight a shipped model was trained at, from the
    preset its card names (the exports shipped with 0.1.0 do not record it)."""
    from tfgancomp import presets
    preset = card(name).get("training", {}).get("preset")
    if preset not in presets.names():
        return None
    return presets.load(preset).get("train", {}).get("lmbda")


def size_bytes(directory: Path) -> int:
    """Bytes of all files under `directory`."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def ship(codec, name: str, facts: dict, force: bool = False,
         plot: bytes | None = None) -> Path:
    """Exports a trained codec into the package as shipped model `name`,
    with its model card: `facts` (training, data, results) go to card.json
    and, rendered, to README.md, with `plot` (PNG, the rate-distortion
    plot of `tfgancomp evaluate`) as PLOT. A model it replaces with the
    same encoder and entropy model goes on decoding: the new one takes its
    tables (`Codec.adopt_tables_of`) and lists its fingerprints in
    `decodes`."""
    from tfgancomp.deploy import savedmodel
    from tfgancomp.deploy.exported import load_export
    directory = PRETRAINED / name
    if directory.exists() and not force:
        raise ModelError(f"{directory} exists (use force to replace it)")
    if codec.model_name != name:
        raise ModelError(f"the codec is model '{codec.model_name}': files "
                         f"it writes would not name '{name}'")
    if directory.exists():
        replaced = load_export(directory).codec()
        if codec.adopt_tables_of(replaced):  # it now reads their files
            earlier = (replaced.fingerprint(),) + replaced.decodes
            codec.decodes = tuple(f for f in dict.fromkeys(earlier)
                                  if f != codec.fingerprint())
    savedmodel.export(codec, directory, force=force)
    # Its absolute paths mean nothing once the package is installed.
    (directory / savedmodel.MODELS_CONFIG).unlink()
    facts = dict(facts, name=name, fingerprint=codec.fingerprint().hex(),
                 decodes=[f.hex() for f in codec.decodes],
                 config=codec.config.to_dict())
    (directory / CARD).write_text(json.dumps(facts, indent=2) + "\n")
    (directory / PLOT).unlink(missing_ok=True)
    if plot is not None:
        (directory / PLOT).write_bytes(plot)
    (directory / "README.md").write_text(render_card(facts, plot is not None))
    return directory


def render_card(facts: dict, plot: bool = False) -> str:
    """The model card (Markdown) of card.json's facts, showing PLOT."""
    lines = [f"# {facts['name']}", "", facts.get("description", ""), ""]
    for title, key in (("Training", "training"), ("Results", "results")):
        section = facts.get(key)
        if not section:
            continue
        lines += [f"## {title}", "", "| | |", "| --- | --- |"]
        lines += [f"| {k.replace('_', ' ')} | {_cell(v)} |"
                  for k, v in section.items()]
        lines.append("")
    if plot:
        lines += [f"![rate-distortion curves]({PLOT})", ""]
    lines += ["## Model", "", f"fingerprint `{facts['fingerprint']}`", ""]
    if facts.get("decodes"):
        earlier = ", ".join(f"`{f}`" for f in facts["decodes"])
        lines += [f"It also decodes the files of {earlier} (earlier "
                  "versions with the same encoder).", ""]
    lines += ["```json", json.dumps(facts["config"], indent=2), "```", ""]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")
