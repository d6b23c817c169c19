"""TF Serving's REST API for the exported signatures, so that a client
written for TF Serving works unchanged (and `serving_default` runs: this
server has tfc's range-coding ops, which stock TF Serving lacks).

    GET  /v1/models/{encoder|decoder}[/versions/N]            status
    GET  /v1/models/{encoder|decoder}[/versions/N]/metadata   signatures
    POST /v1/models/{encoder|decoder}[/versions/N]:predict

`encoder` is the default served model's; `decoder` is the served model
whose fingerprint the request's `model_fingerprint` names (else the
default). Requests are TF Serving's: `{"signature_name": …, "inputs":
{…}}` (columnar: tensors as they are, answered with `outputs`) or
`{"instances": [{…}, …]}` (row: the signatures are unbatched, so each
instance is one call, answered with `predictions`); binary strings are
`{"b64": "…"}`, and outputs whose names end in `_bytes` come back so.
Errors are `{"error": "…"}`.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
from fastapi import APIRouter, Request

from tfgancomp.errors import TfgancompError
from tfgancomp.model.protocol import reads
from tfgancomp.serve.errors import ApiError
from tfgancomp.serve.routes import run_on_worker
from tfgancomp.serve.uploads import check_pixels

router = APIRouter(tags=["TF Serving REST"])
SIDES = ("encoder", "decoder")
DEFAULT_SIGNATURE = "serving_default"
SIGNATURES = {"encoder": (DEFAULT_SIGNATURE, "stock"),
              "decoder": (DEFAULT_SIGNATURE, "stock", "stock_scale_indexes")}


class Signature:
    """One signature: its inputs' TensorSpecs, outputs' names, a call."""

    def __init__(self, inputs: dict, outputs: list, call):
        self.inputs, self.outputs, self.call = inputs, outputs, call


def _codec_signature(model, side: str, name: str) -> Signature:
    """An in-memory Codec (a run or model/ directory) has the full
    signature only: the same inputs and outputs as the export's."""
    import tensorflow as tf
    if name != DEFAULT_SIGNATURE:
        raise ApiError(400, f"model '{model.model_name}' is not an export: "
                            f"only '{DEFAULT_SIGNATURE}' is served")
    string, size = tf.TensorSpec([], tf.string), tf.TensorSpec([2], tf.int32)
    if side == "encoder":
        def encode(image):
            latent, side_latent = model.compress(image)
            return {"image_size": tf.shape(image)[:2], "latent_bytes": latent,
                    "model_fingerprint": tf.constant(
                        model.fingerprint().hex()),
                    "side_latent_bytes": side_latent}
        return Signature({"image": tf.TensorSpec([None, None, 3], tf.uint8)},
                         ["image_size", "latent_bytes", "model_fingerprint",
                          "side_latent_bytes"], encode)

    def decode(latent_bytes, side_latent_bytes, image_size,
               model_fingerprint):
        if not reads(model, bytes.fromhex(model_fingerprint.numpy().decode())):
            raise ApiError(400, "wrong model: this decoder is model "
                                f"'{model.model_name}'")
        return {"image": model.decompress(latent_bytes, side_latent_bytes,
                                          image_size)}
    return Signature({"latent_bytes": string, "side_latent_bytes": string,
                      "image_size": size, "model_fingerprint": string},
                     ["image"], decode)


def signature(model, side: str, name: str) -> Signature:
    if not hasattr(model, "signature"):
        return _codec_signature(model, side, name)
    function = model.signature(side, name)
    outputs = sorted(function.structured_outputs)
    return Signature(dict(function.structured_input_signature[1]), outputs,
                     lambda **tensors: function(**tensors))


def _version(model, side: str) -> str:
    directories = getattr(model, "directories", None)
    return directories[side].name if directories else "1"


def _model(request: Request, side: str, version: str | None,
           fingerprint=None):
    registry = request.app.state.registry
    if side not in SIDES:
        raise ApiError(404, f"Servable not found for request: Latest({side})"
                            f" (this server has 'encoder' and 'decoder')")
    model = None
    if fingerprint is not None:
        try:
            model = registry.by_fingerprint(bytes.fromhex(fingerprint))
        except (TypeError, ValueError):
            model = None
    model = model or registry.get()
    if version is not None and version != _version(model, side):
        raise ApiError(404, f"Servable not found for request: "
                            f"Specific({side}, {version})")
    return model


def _strings(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ApiError(400, "invalid base64 in a {\"b64\": …} value")
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [_strings(v) for v in value]
    raise ApiError(400, f"expected a string or {{\"b64\": …}}, got "
                        f"{type(value).__name__}")


def _tensor(name: str, spec, value, max_pixels: int):
    import tensorflow as tf
    if spec.dtype == tf.string:
        array = np.array(_strings(value), dtype=object)
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):  # ragged lists
            array = None
        if array is None or array.dtype.kind not in "iub" + (
                "f" if spec.dtype.is_floating else ""):
            raise ApiError(400, f"input '{name}' must be numbers of "
                                f"{spec.dtype.name}")
        if spec.dtype.is_integer and array.size:
            info = np.iinfo(spec.dtype.as_numpy_dtype)
            if array.min() < info.min or array.max() > info.max:
                raise ApiError(400, f"input '{name}' has values outside "
                                    f"{spec.dtype.name}'s range")
        array = array.astype(spec.dtype.as_numpy_dtype)
    if not spec.shape.is_compatible_with(array.shape):
        raise ApiError(400, f"input '{name}' has shape {list(array.shape)}, "
                            f"the signature wants {spec.shape}")
    if name == "image":
        check_pixels(array.shape[0], array.shape[1], max_pixels)
    if name == "image_size":
        check_pixels(int(array[0]), int(array[1]), max_pixels)
    return tf.constant(array, dtype=spec.dtype)


def _json(name: str, tensor):
    array = np.asarray(tensor.numpy())
    if array.dtype.kind not in "OS":
        return array.tolist()

    def encode(value):
        if isinstance(value, list):
            return [encode(v) for v in value]
        if not name.endswith("_bytes"):
            try:
                return value.decode()
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode()}
    return encode(array.astype(object).tolist())


def _named(instance, sig: Signature) -> dict:
    """One instance's (or the columnar inputs') tensors by input name."""
    names = list(sig.inputs)
    if isinstance(instance, dict) and set(instance) - {"b64"}:
        unknown = set(instance) - set(names)
        missing = set(names) - set(instance)
        if unknown or missing:
            raise ApiError(400, f"the signature's inputs are {names}"
                                + (f"; unknown: {sorted(unknown)}"
                                   if unknown else "")
                                + (f"; missing: {sorted(missing)}"
                                   if missing else ""))
        return instance
    if len(names) != 1:
        raise ApiError(400, f"name the inputs: the signature has {names}")
    return {names[0]: instance}


def _call(sig: Signature, values: dict, max_pixels: int):
    import tensorflow as tf
    tensors = {name: _tensor(name, sig.inputs[name], value, max_pixels)
               for name, value in values.items()}
    try:
        outputs = sig.call(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
        message = str(e).strip().splitlines()
        raise ApiError(400, message[0] if message else "invalid input")
    result = {name: _json(name, outputs[name]) for name in sig.outputs}
    return next(iter(result.values())) if len(result) == 1 else result


def predict(model, side: str, body, max_pixels: int) -> dict:
    """TF Serving's predict on one side of `model`."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request must be a JSON object")
    sig = signature(model, side, body.get("signature_name")
                    or DEFAULT_SIGNATURE)
    if ("instances" in body) == ("inputs" in body):
        raise ApiError(400, "give exactly one of 'instances' (row format) "
                            "and 'inputs' (columnar format)")
    if "inputs" in body:
        return {"outputs": _call(sig, _named(body["inputs"], sig),
                                 max_pixels)}
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise ApiError(400, "'instances' must be a non-empty list")
    return {"predictions": [_call(sig, _named(i, sig), max_pixels)
                            for i in instances]}


async def _predict(request: Request, side: str, version: str | None):
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "the request body is not JSON") from None
    fingerprint = None
    if side == "decoder" and isinstance(body, dict):
        inputs = body.get("inputs")
        instances = body.get("instances")
        if inputs is None and isinstance(instances, list) and instances:
            inputs = instances[0]
        if isinstance(inputs, dict):
            fingerprint = inputs.get("model_fingerprint")
    model = _model(request, side, version, fingerprint)
    return await run_on_worker(request, predict, model, side, body,
                      request.app.state.settings.max_pixels)


@router.post("/v1/models/{side}:predict")
async def predict_latest(request: Request, side: str):
    return await _predict(request, side, None)


@router.post("/v1/models/{side}/versions/{version}:predict")
async def predict_version(request: Request, side: str, version: str):
    return await _predict(request, side, version)


def _status(request: Request, side: str, version: str | None) -> dict:
    model = _model(request, side, version)
    return {"model_version_status": [{
        "version": _version(model, side), "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}


@router.get("/v1/models/{side}")
async def status(request: Request, side: str):
    return _status(request, side, None)


@router.get("/v1/models/{side}/versions/{version}")
async def status_version(request: Request, side: str, version: str):
    return _status(request, side, version)


def _metadata(request: Request, side: str, version: str | None) -> dict:
    model = _model(request, side, version)
    defs = {}
    for name in SIGNATURES[side]:
        try:
            sig = signature(model, side, name)
        except TfgancompError:
            continue
        defs[name] = {"inputs": {
            k: {"dtype": "DT_" + s.dtype.name.upper(),
                "tensor_shape": {"dim": [{"size": str(d if d is not None
                                                      else -1)}
                                         for d in s.shape.as_list()],
                                 "unknown_rank": False},
                "name": k} for k, s in sig.inputs.items()},
            "outputs": {k: {"name": k} for k in sig.outputs},
            "method_name": "tensorflow/serving/predict"}
    return {"model_spec": {"name": side, "signature_name": "",
                           "version": _version(model, side)},
            "metadata": {"signature_def": {"signature_def": defs}}}


@router.get("/v1/models/{side}/metadata")
async def metadata(request: Request, side: str):
    return _metadata(request, side, None)


@router.get("/v1/models/{side}/versions/{version}/metadata")
async def metadata_version(request: Request, side: str, version: str):
    return _metadata(request, side, version)
