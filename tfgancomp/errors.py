"""Error types. Everything a user can cause derives from `TfgancompError`."""


class TfgancompError(Exception):
    """A problem with the user's input: a file, an image, a model or a flag."""


class ConfigError(TfgancompError, ValueError):
    """A model or training configuration value is invalid."""


class ImageError(TfgancompError):
    """An image cannot be read, converted or written."""


class BitstreamError(TfgancompError):
    """A .tfgc file is truncated, corrupted, or not a .tfgc file at all."""


class ModelMismatchError(BitstreamError):
    """A .tfgc file was written by another model than the decoding one."""


class ModelError(TfgancompError):
    """A model cannot be found or loaded."""


class TrainingError(TfgancompError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""
