"""Weights copied by name between models: a `Codec` rebuilt from an export,
and training runs that start from another model's weights."""

from __future__ import annotations

from tfgancomp.errors import ModelError


def copy_weights(source: dict, variables) -> tuple[list[str], list[str]]:
    """Assigns each variable the source variable of its name and shape;
    returns the names copied and the names left as they were."""
    copied, kept = [], []
    for variable in variables:
        value = source.get(variable.name)
        if value is not None and value.shape == variable.shape:
            variable.assign(value)
            copied.append(variable.name)
        else:
            kept.append(variable.name)
    return copied, kept


def copy_gains(source, codec, lmbdas) -> list[str]:
    """A variable-rate warm start onto another λ range `lmbdas` (or
    number of trained qualities): gives each trained quality of `codec`
    the gains of `source` at its λ, extrapolated beyond the source's
    range, instead of those of the source's quality with the same index
    that `copy_weights` copied. Returns the gain variables it set that
    `copy_weights` could not (another shape), [] if nothing changed."""
    from tfgancomp.model import conditioning
    mine, theirs = codec.gain, source.gain
    if (mine is None or theirs is None or source.lmbda is None or (
            tuple(source.lmbda) == tuple(lmbdas) and
            mine.qualities == theirs.qualities)):
        return []
    mine.adopt(theirs, [
        conditioning.quality_of(source.lmbda, conditioning.lmbda_at(
            lmbdas, k / (mine.qualities - 1))) * (theirs.qualities - 1)
        for k in range(mine.qualities)])
    if mine.qualities == theirs.qualities:
        return []
    return [v.name for v in mine.variables]


def codec_of_export(exported, estimates: bool = True,
                    sides: tuple[str, ...] = ("encoder", "decoder")):
    """The in-memory `Codec` of an export's weights: it codes exactly as
    the exported graphs do (tests/test_golden.py); with `estimates`, its
    bit estimates are those of the model trained. With `sides` only
    ("decoder",), just the decoder's weights are read and the codec can
    only decode: its analysis transforms keep their initial weights."""
    from tfgancomp.errors import ConfigError
    from tfgancomp.model.codec import Codec
    from tfgancomp.model.config import ModelConfig
    try:
        config = ModelConfig.from_dict(exported.config)
    except ConfigError as e:
        raise ModelError(f"{exported.model_name}: {e}") from None
    codec = Codec(config)
    codec.fix_tables(placeholders=True)
    for side in sides:
        exported.signature(side)  # a clear error if a side is missing
    _, missing = copy_weights(exported.variables(sides),
                              codec.coding_variables())
    if missing and "encoder" in sides:
        raise ModelError(f"the export of '{exported.model_name}' lacks "
                         f"{', '.join(missing)}")
    if estimates:
        restore_side_prior(codec, exported)
    codec.model_name = exported.model_name
    codec.lmbda = exported.lmbda
    codec.decodes = exported.decodes
    return codec


def restore_side_prior(codec, exported) -> None:
    """The side prior's density, which bit estimates, refinement and warm
    starts use (coding uses only its tables). The exports shipped with
    0.1.0 lack it: it is fitted to their tables instead (3 s)."""
    _, lacking = copy_weights(exported.variables(),
                              codec.entropy.side_prior.variables)
    if lacking:
        codec.entropy.fit_side_prior()
