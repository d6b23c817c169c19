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
# Card key of a model kept, under a new name, only so that the files it
# wrote go on decoding after another model took its name.
RETIRED = "retired"


def shipped_models() -> dict[str, Path]:
    """The shipped models by name, sorted, each its directory."""
    if not PRETRAINED.is_dir():
        return {}
    return {p.name: p for p in sorted(PRETRAINED.iterdir())
            if (p / CARD).is_file()}


def current_models() -> dict[str, Path]:
    """The shipped models that are not retired."""
    return {name: path for name, path in shipped_models().items()
            if RETIRED not in card(name)}


def reader_of(model_name: str, fingerprint: bytes) -> str | None:
    """The shipped model to decode a file whose header names `model_name`
    and `fingerprint`: the model of that name if it reads them (its
    fingerprint or its `decodes`), else a retired model that does, else
    the model of that name (which will refuse the file), else None."""
    def reads(name):
        facts = card(name)
        return fingerprint.hex() in [facts.get("fingerprint"),
                                     *facts.get("decodes", [])]
    models = shipped_models()
    named = model_name if model_name in models else None
    if named and reads(named):
        return named
    return next((name for name in models if reads(name)), named)


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
         plot: bytes | None = None, retire_as: str | None = None) -> Path:
    """Exports a trained codec into the package as shipped model `name`,
    with its model card: `facts` (training, data, results) go to card.json
    and, rendered, to README.md, with `plot` (PNG, the rate-distortion
    plot of `tfgancomp evaluate`) as PLOT.

    The files of a model it replaces go on decoding. With the same encoder
    and entropy model, the new one takes its tables
    (`Codec.adopt_tables_of`) and lists its fingerprints in `decodes`;
    otherwise the replaced model is kept as `retire_as` (see `retire`),
    which must then be given."""
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
        elif retire_as is None:
            raise ModelError(
                f"'{name}' has another encoder: the files its model wrote "
                f"({replaced.fingerprint().hex()}) would stop decoding; "
                "keep that model under another name (retire_as)")
        else:
            retire(name, retire_as, f"replaced as '{name}' by "
                   f"{codec.fingerprint().hex()}")
    savedmodel.export(codec, directory, force=force)
    # Its absolute paths mean nothing once the package is installed.
    (directory / savedmodel.MODELS_CONFIG).unlink()
    facts = dict(facts, name=name, fingerprint=codec.fingerprint().hex(),
                 decodes=[f.hex() for f in codec.decodes],
                 config=codec.config.to_dict())
    (directory / PLOT).unlink(missing_ok=True)
    if plot is not None:
        (directory / PLOT).write_bytes(plot)
    _write_card(directory, facts)
    return directory


def retire(name: str, as_name: str, why: str) -> Path:
    """Moves shipped model `name` to `as_name`, its card marked RETIRED
    (`why`): it no longer lists among the current models, and decodes the
    files it wrote, whose headers still name `name` (`reader_of`)."""
    source, target = shipped_path(name), PRETRAINED / as_name
    if target.exists():
        raise ModelError(f"{target} exists: retire '{name}' as another name")
    facts = dict(card(name), name=as_name)
    facts[RETIRED] = why
    source.rename(target)
    _write_card(target, facts)
    return target


def _write_card(directory: Path, facts: dict) -> None:
    (directory / CARD).write_text(json.dumps(facts, indent=2) + "\n")
    (directory / "README.md").write_text(
        render_card(facts, (directory / PLOT).is_file()))


def render_card(facts: dict, plot: bool = False) -> str:
    """The model card (Markdown) of card.json's facts, showing PLOT."""
    lines = [f"# {facts['name']}", "", facts.get("description", ""), ""]
    if RETIRED in facts:
        lines += [f"Retired ({facts[RETIRED]}): kept so that the files it "
                  "wrote go on decoding.", ""]
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
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")
