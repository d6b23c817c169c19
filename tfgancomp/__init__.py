"""tfgancomp: learned, GAN-based lossy image compression for TensorFlow 2.

    import tfgancomp
    model = tfgancomp.load_model("path/to/model")
    data = tfgancomp.compress(PIL.Image.open("photo.png"), model)
    image = tfgancomp.decompress(data, model)

Importing the package is cheap: TensorFlow loads on first use of a model.
"""

from tfgancomp.api import compress, decompress, load_model
from tfgancomp.errors import (
    BitstreamError,
    ConfigError,
    ImageError,
    ModelError,
    ModelMismatchError,
    TfgancompError,
)

__version__ = "0.1.0"

__all__ = ["compress", "decompress", "load_model", "BitstreamError",
           "ConfigError", "ImageError", "ModelError", "ModelMismatchError",
           "TfgancompError", "__version__"]
