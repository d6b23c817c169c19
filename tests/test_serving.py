"""Exported encoder and decoder SavedModels: layout, identity, signatures,
bit-exact interchange with the in-process model, and stock-op savedmodel."""

import dataclasses
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, photo_like
from PIL import Image

import tfgancomp
from tfgancomp.cli import main as cli
from tfgancomp.deploy import savedmodel
from tfgancomp.formats import bitstream

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export_dir(model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("serving")
    savedmodel.export(model, directory)
    return directory


@pytest.fixture(scope="module")
def exported(export_dir):
    return tfgancomp.load_model(export_dir)


def _saved_model(version_dir):
    from tensorflow.core.protobuf import saved_model_pb2
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    return proto.meta_graphs[0]


def _size(directory):
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def test_layout_identity_and_slimness(export_dir, model, trained_model_dir):
    assert sorted(p.name for p in export_dir.iterdir()) == [
        "decoder", "encoder", "models.config"]
    config = (export_dir / "models.config").read_text()
    for side in savedmodel.SIDES:
        assert f'base_path: "{os.path.abspath(export_dir / side)}"' in config
        version = export_dir / side / "1"
        assert sorted(p.name for p in (version / "assets").iterdir()) == [
            "range_coding_tables.json", "tfgancomp.json"]
        identity = json.loads((version / "assets/tfgancomp.json").read_text())
        assert identity["side"] == side
        assert identity["model_name"] == model.model_name == "tiny"
        assert identity["model_fingerprint"] == model.fingerprint().hex()
        # Each side holds less than the stored model (no optimizer, no
        # training entropy models, not the other side's transforms).
        store_weights = _size(trained_model_dir / "model")
        assert _size(version / "variables") < store_weights


def test_signatures(export_dir):
    channels, side_channels = TINY["latent_channels"], TINY["hyper_channels"]
    expected = {
        ("encoder", "serving_default"): (
            {"image": ("DT_UINT8", [-1, -1, 3])},
            {"latent_bytes": ("DT_STRING", []),
             "side_latent_bytes": ("DT_STRING", []),
             "image_size": ("DT_INT32", [2]),
             "model_fingerprint": ("DT_STRING", [])}),
        ("encoder", "stock"): (
            {"image": ("DT_UINT8", [-1, -1, 3])},
            {"latent_symbols": ("DT_INT32", [-1, -1, channels]),
             "latent_scale_indexes": ("DT_INT32", [-1, -1, channels]),
             "side_latent_symbols": ("DT_INT32", [-1, -1, side_channels]),
             "image_size": ("DT_INT32", [2]),
             "model_fingerprint": ("DT_STRING", [])}),
        ("decoder", "serving_default"): (
            {"latent_bytes": ("DT_STRING", []),
             "side_latent_bytes": ("DT_STRING", []),
             "image_size": ("DT_INT32", [2]),
             "model_fingerprint": ("DT_STRING", [])},
            {"image": ("DT_UINT8", [-1, -1, 3])}),
        ("decoder", "stock"): (
            {"latent_symbols": ("DT_INT32", [-1, -1, channels]),
             "side_latent_symbols": ("DT_INT32", [-1, -1, side_channels]),
             "image_size": ("DT_INT32", [2]),
             "model_fingerprint": ("DT_STRING", [])},
            {"image": ("DT_UINT8", [-1, -1, 3])}),
        ("decoder", "stock_scale_indexes"): (
            {"side_latent_symbols": ("DT_INT32", [-1, -1, side_channels]),
             "image_size": ("DT_INT32", [2])},
            {"latent_scale_indexes": ("DT_INT32", [-1, -1, channels])}),
    }
    from tensorflow.core.framework import types_pb2

    def describe(tensors):
        return {name: (types_pb2.DataType.Name(t.dtype),
                       [d.size for d in t.tensor_shape.dim])
                for name, t in tensors.items()}

    for side in savedmodel.SIDES:
        signatures = _saved_model(export_dir / side / "1").signature_def
        names = {name for s, name in expected if s == side}
        assert set(signatures) - {"__saved_model_init_op"} == names
        for name in names:
            inputs, outputs = expected[side, name]
            assert describe(signatures[name].inputs) == inputs
            assert describe(signatures[name].outputs) == outputs


def test_files_cross_decode_bit_exactly(model, exported):
    assert exported.fingerprint() == model.fingerprint()
    assert exported.model_name == model.model_name
    for height, width in [(1, 1), (45, 77), (130, 64)]:
        image = photo_like(height, width, seed=width)
        data = tfgancomp.compress(image, exported)
        assert data == tfgancomp.compress(image, model)
        decoded = np.asarray(tfgancomp.decompress(data, model))
        assert np.array_equal(
            np.asarray(tfgancomp.decompress(data, exported)), decoded)


def test_cli_takes_an_export_as_model(capsys, tmp_path, export_dir,
                                      trained_model_dir):
    photo = tmp_path / "photo.png"
    Image.fromarray(photo_like(51, 83, seed=2)).save(photo)
    runs = [("compress", photo, "-o", tmp_path / "a.tfgc", "--model",
             export_dir / "encoder"),
            ("decompress", tmp_path / "a.tfgc", "-o", tmp_path / "a.png",
             "--model", trained_model_dir),
            ("compress", photo, "-o", tmp_path / "b.tfgc", "--model",
             trained_model_dir),
            ("decompress", tmp_path / "b.tfgc", "-o", tmp_path / "b.png",
             "--model", export_dir)]
    for args in runs:
        assert cli([str(a) for a in args]) == 0, capsys.readouterr().err
    assert (tmp_path / "a.tfgc").read_bytes() == (
        tmp_path / "b.tfgc").read_bytes()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")),
                          np.asarray(Image.open(tmp_path / "b.png")))


def test_every_export_path_loads(export_dir, model):
    paths = {export_dir: {"encoder", "decoder"}}
    for side in savedmodel.SIDES:
        paths[export_dir / side] = {side}
        paths[export_dir / side / "1"] = {side}
    for path, sides in paths.items():
        loaded = tfgancomp.load_model(path)
        assert set(loaded.directories) == sides
        assert loaded.fingerprint() == model.fingerprint()


def test_one_side_alone_says_what_is_missing(export_dir):
    image = photo_like(20, 20)
    decoder_only = tfgancomp.load_model(export_dir / "decoder")
    with pytest.raises(tfgancomp.ModelError, match="needs its encoder"):
        tfgancomp.compress(image, decoder_only)
    encoder_only = tfgancomp.load_model(export_dir / "encoder")
    data = tfgancomp.compress(image, encoder_only)
    with pytest.raises(tfgancomp.ModelError, match="needs its decoder"):
        tfgancomp.decompress(data, encoder_only)


def test_wrong_model_is_refused(export_dir, exported):
    data = tfgancomp.compress(photo_like(30, 40), exported)
    container = bitstream.unpack(data)
    other = bitstream.pack(dataclasses.replace(
        container, model_name="other", model_fingerprint=bytes(8)))
    with pytest.raises(tfgancomp.ModelMismatchError,
                       match="'other' .* not by 'tiny'"):
        tfgancomp.decompress(other, exported)


def test_decoder_signatures_refuse_wrong_model_and_shapes(exported):
    import tensorflow as tf
    image = photo_like(40, 50)
    coded = exported.signature("encoder")(image=tf.constant(image))
    stock = exported.signature("encoder", "stock")(image=tf.constant(image))
    wrong = tf.constant("0123456789abcdef")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="wrong model: this decoder is model tiny"):
        exported.signature("decoder")(**{**coded, "model_fingerprint": wrong})
    with pytest.raises(tf.errors.InvalidArgumentError, match="wrong model"):
        exported.signature("decoder", "stock")(
            latent_symbols=stock["latent_symbols"],
            side_latent_symbols=stock["side_latent_symbols"],
            image_size=stock["image_size"], model_fingerprint=wrong)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="latent_symbols must have shape"):
        exported.signature("decoder", "stock")(
            latent_symbols=stock["latent_symbols"][:-1],
            side_latent_symbols=stock["side_latent_symbols"],
            image_size=stock["image_size"],
            model_fingerprint=stock["model_fingerprint"])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="image_size must be in"):
        exported.signature("decoder")(**{**coded,
                                         "image_size": tf.constant([0, 5])})


def test_missing_and_broken_exports_are_clear(tmp_path, export_dir):
    with pytest.raises(tfgancomp.ModelError,
                       match="nowhere is neither a directory"):
        tfgancomp.load_model(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(export_dir, broken)
    (broken / "encoder" / "2").mkdir()  # an unfinished newer version
    with pytest.raises(tfgancomp.ModelError,
                       match=r"encoder/2 holds no SavedModel"):
        tfgancomp.load_model(broken)
    with pytest.raises(tfgancomp.ModelError, match="holds no SavedModel"):
        tfgancomp.load_model(broken / "encoder" / "2")
    shutil.rmtree(broken / "encoder")
    (broken / "encoder").mkdir()
    with pytest.raises(tfgancomp.ModelError, match="no version directory"):
        tfgancomp.load_model(broken)
    shutil.rmtree(broken / "encoder")
    identity = broken / "decoder" / "1" / "assets" / "tfgancomp.json"
    identity.write_text("{")
    with pytest.raises(tfgancomp.ModelError, match="cannot read"):
        tfgancomp.load_model(broken)
    identity.unlink()
    with pytest.raises(tfgancomp.ModelError, match="not a tfgancomp export"):
        tfgancomp.load_model(broken)


def test_encoder_and_decoder_of_different_models_are_refused(
        tmp_path, export_dir):
    mixed = tmp_path / "mixed"
    shutil.copytree(export_dir, mixed)
    identity = mixed / "decoder" / "1" / "assets" / "tfgancomp.json"
    values = json.loads(identity.read_text())
    identity.write_text(json.dumps(
        {**values, "model_name": "other", "model_fingerprint": "00" * 8}))
    with pytest.raises(tfgancomp.ModelError, match="different models"):
        tfgancomp.load_model(mixed)


def test_export_refuses_to_replace_a_version(model, export_dir, tmp_path):
    with pytest.raises(tfgancomp.ModelError, match="already exists"):
        savedmodel.export(model, export_dir)
    (tmp_path / "models.config").write_text("# mine\n")
    with pytest.raises(tfgancomp.ModelError, match="models.config exists"):
        savedmodel.export(model, tmp_path, version=3)
    assert (tmp_path / "models.config").read_text() == "# mine\n"
    with pytest.raises(tfgancomp.ModelError, match="positive integer"):
        savedmodel.export(model, tmp_path, version=0)


@pytest.mark.slow
def test_export_script(trained_model_dir, tmp_path):
    def run(*flags):
        return subprocess.run(
            [sys.executable, str(ROOT / "export" / "export.py"), *flags],
            capture_output=True, text=True)

    ok = run(f"--model_dir={trained_model_dir}", f"--export_dir={tmp_path}",
             "--version=4")
    assert ok.returncode == 0, ok.stderr
    assert "model 'tiny'" in ok.stdout
    assert (tmp_path / "decoder" / "4" / "saved_model.pb").is_file()
    again = run(f"--model_dir={trained_model_dir}",
                f"--export_dir={tmp_path}", "--version=4")
    bad_flag = run(f"--model_dir={trained_model_dir}",
                   f"--export_dir={tmp_path}", "--version=0")
    for result, words in ((again, "already exists"),
                          (bad_flag, "not a positive integer")):
        assert result.returncode != 0
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("export.py: error:")
        assert words in result.stderr
    # A run's latest checkpoint exports as the model the run wrote.
    latest = run(f"--model_dir={trained_model_dir}",
                 f"--export_dir={tmp_path / 'latest'}", "--checkpoint")
    assert latest.returncode == 0, latest.stderr
    assert "latest checkpoint: step 600" in latest.stdout
    identity = ok.stdout.splitlines()[0]  # model 'tiny' (fingerprint)
    assert identity in latest.stdout
    nothing = run(f"--model_dir={tmp_path}", f"--export_dir={tmp_path}",
                  "--checkpoint")
    assert nothing.returncode != 0
    assert "not a training run" in nothing.stderr


# Fresh processes without tfgancomp.

_TFC_ROUND_TRIP = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_compression  # noqa: F401  registers the range coder
assert "tfgancomp" not in sys.modules
export, image, out = sys.argv[1:]
encoder = tf.saved_model.load(export + "/encoder/1")
decoder = tf.saved_model.load(export + "/decoder/1")
coded = encoder.signatures["serving_default"](image=np.load(image))
decoded = decoder.signatures["serving_default"](**coded)["image"]
np.savez(out, string=coded["latent_bytes"].numpy(),
         side_string=coded["side_latent_bytes"].numpy(),
         image_size=coded["image_size"].numpy(), image=decoded.numpy())
"""


@pytest.mark.slow
def test_round_trip_with_only_tensorflow_and_tfc(model, export_dir,
                                                 tmp_path):
    image = photo_like(45, 77, seed=9)  # odd height and width
    np.save(tmp_path / "image.npy", image)
    subprocess.run([sys.executable, "-c", _TFC_ROUND_TRIP, str(export_dir),
                    str(tmp_path / "image.npy"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True)
    out = np.load(tmp_path / "out.npz")
    string, side_string = model.compress(image)
    assert out["string"].item() == string.numpy()
    assert out["side_string"].item() == side_string.numpy()
    assert list(out["image_size"]) == [45, 77]
    assert np.array_equal(out["image"], model.decompress(
        string, side_string, [45, 77]).numpy())


# The stock-op client below runs in a process that imports only tensorflow
# (and numpy): its functions' source is the script, see `_stock_script`.

def _reachable_ops(meta_graph, signature):
    """Op types that serving `signature` can run: the top-level nodes it
    needs (with the restore and init ops) and every function they call,
    nested calls and control-flow branches included."""
    graph = meta_graph.graph_def
    nodes = {node.name: node for node in graph.node}
    functions = {f.signature.name: f for f in graph.library.function}
    roots = [t.name for t in meta_graph.signature_def[signature]
             .outputs.values()]
    roots += [meta_graph.saver_def.restore_op_name,
              meta_graph.signature_def["__saved_model_init_op"]
              .outputs["__saved_model_init_op"].name]
    ops, seen = set(), set()
    todo = [("node", name.lstrip("^").split(":")[0]) for name in roots]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        kind, name = item
        if kind == "node":
            node_defs = [nodes[name]]
            todo += [("node", i.lstrip("^").split(":")[0])
                     for i in nodes[name].input]
        else:
            node_defs = functions[name].node_def
        for node in node_defs:
            if node.op in functions:
                todo.append(("function", node.op))
            else:
                ops.add(node.op)
            for attr in node.attr.values():
                called = [attr.func] if attr.HasField("func") else []
                for f in list(called) + list(attr.list.func):
                    todo.append(("function", f.name))
    return ops


def _c_api():
    """TensorFlow's C API: the C++ SavedModel loader and DirectSession that
    TF Serving runs, without Python's graph importer."""
    import ctypes as C
    import os

    import tensorflow as tf
    lib = C.CDLL(os.path.join(os.path.dirname(tf.__file__),
                              "libtensorflow_cc.so.2"))
    P = C.c_void_p
    strings = C.POINTER(C.c_char_p)
    for name, result, args in [
            ("TF_NewStatus", P, []), ("TF_NewSessionOptions", P, []),
            ("TF_NewGraph", P, []), ("TF_GetCode", C.c_int, [P]),
            ("TF_Message", C.c_char_p, [P]),
            ("TF_LoadSessionFromSavedModel", P,
             [P, P, C.c_char_p, strings, C.c_int, P, P, P]),
            ("TF_NewDeprecatedSession", P, [P, P]),
            ("TF_ExtendGraph", None, [P, C.c_char_p, C.c_size_t, P]),
            ("TF_AllocateTensor", P,
             [C.c_int, C.POINTER(C.c_int64), C.c_int, C.c_size_t]),
            ("TF_TensorData", P, [P]), ("TF_TensorByteSize", C.c_size_t, [P]),
            ("TF_NumDims", C.c_int, [P]), ("TF_Dim", C.c_int64, [P, C.c_int]),
            ("TF_TensorType", C.c_int, [P]),
            ("TF_Run", None, [P, P, strings, C.POINTER(P), C.c_int, strings,
                              C.POINTER(P), C.c_int, strings, C.c_int, P,
                              P])]:
        function = getattr(lib, name)
        function.restype, function.argtypes = result, args
    return lib


def _c_session(lib, version_dir, meta_graph):
    """A DirectSession holding the whole saved graph, variables restored."""
    import os
    status = lib.TF_NewStatus()
    session = lib.TF_NewDeprecatedSession(lib.TF_NewSessionOptions(), status)
    graph = meta_graph.graph_def.SerializeToString()
    lib.TF_ExtendGraph(session, graph, len(graph), status)
    assert lib.TF_GetCode(status) == 0, lib.TF_Message(status)
    os.chdir(version_dir)  # a short path: see _c_tensor
    saver = meta_graph.saver_def
    _c_run(lib, session, {saver.filename_tensor_name: b"variables/variables"},
           [], [saver.restore_op_name])
    return session


def _c_tensor(lib, value):
    import ctypes as C

    import numpy as np
    if isinstance(value, bytes):  # a TF_TString, small-string layout
        assert len(value) <= 22
        tensor = lib.TF_AllocateTensor(7, None, 0, 24)
        raw = bytes([len(value) << 2]) + value + bytes(23 - len(value))
        C.memmove(lib.TF_TensorData(tensor), raw, 24)
        return tensor
    value = np.ascontiguousarray(value)
    dtype = {np.dtype(np.uint8): 4, np.dtype(np.int32): 3}[value.dtype]
    tensor = lib.TF_AllocateTensor(
        dtype, (C.c_int64 * value.ndim)(*value.shape), value.ndim,
        value.nbytes)
    C.memmove(lib.TF_TensorData(tensor), value.ctypes.data, value.nbytes)
    return tensor


def _c_array(lib, tensor):
    import ctypes as C

    import numpy as np
    shape = [lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor))]
    dtype = {4: np.uint8, 3: np.int32}[lib.TF_TensorType(tensor)]
    data = (C.c_char * lib.TF_TensorByteSize(tensor)).from_address(
        lib.TF_TensorData(tensor))
    return np.frombuffer(bytes(data), dtype).reshape(shape)


def _c_run(lib, session, feeds, fetches, targets=()):
    import ctypes as C

    def names(values):
        return (C.c_char_p * len(values))(*[v.encode() for v in values])

    inputs = (C.c_void_p * len(feeds))(
        *[_c_tensor(lib, v) for v in feeds.values()])
    outputs = (C.c_void_p * len(fetches))()
    status = lib.TF_NewStatus()
    lib.TF_Run(session, None, names(list(feeds)), inputs, len(feeds),
               names(fetches), outputs, len(fetches), names(targets),
               len(targets), None, status)
    if lib.TF_GetCode(status):
        raise RuntimeError(lib.TF_Message(status).decode())
    return [_c_array(lib, outputs[i]) for i in range(len(fetches))]


def _stock_client(export_dir, image_path, fingerprint, out_path):
    """Checks the ops of every signature, loads both SavedModels with the
    C++ loader, and codes an image through the stock signatures."""
    import ctypes
    import json
    import sys

    import numpy as np
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry
    assert "tensorflow_compression" not in sys.modules
    assert "tfgancomp" not in sys.modules
    lib = _c_api()
    unregistered, sessions = {}, {}
    for side in ("encoder", "decoder"):
        version_dir = f"{export_dir}/{side}/1"
        saved_model = saved_model_pb2.SavedModel()
        with open(f"{version_dir}/saved_model.pb", "rb") as f:
            saved_model.ParseFromString(f.read())
        meta_graph = saved_model.meta_graphs[0]
        for name in meta_graph.signature_def:
            if name != "__saved_model_init_op":
                unregistered[f"{side} {name}"] = sorted(
                    op for op in _reachable_ops(meta_graph, name)
                    if op_def_registry.get(op) is None)
        tags = (ctypes.c_char_p * 1)(b"serve")
        status = lib.TF_NewStatus()
        lib.TF_LoadSessionFromSavedModel(
            lib.TF_NewSessionOptions(), None, version_dir.encode(), tags, 1,
            lib.TF_NewGraph(), None, status)
        unregistered[f"{side} TF_LoadSessionFromSavedModel"] = (
            lib.TF_Message(status).decode())
        sessions[side] = (_c_session(lib, version_dir, meta_graph),
                          meta_graph.signature_def)

    def call(side, name, **inputs):
        session, signatures = sessions[side]
        signature = signatures[name]
        keys = sorted(k for k in signature.outputs  # strings: see _c_tensor
                      if k != "model_fingerprint")
        values = _c_run(lib, session,
                        {signature.inputs[k].name: v
                         for k, v in inputs.items()},
                        [signature.outputs[k].name for k in keys])
        return dict(zip(keys, values))

    coded = call("encoder", "stock", image=np.load(image_path))
    scales = call("decoder", "stock_scale_indexes",
                  side_latent_symbols=coded["side_latent_symbols"],
                  image_size=coded["image_size"])
    decoded = call("decoder", "stock",
                   latent_symbols=coded["latent_symbols"],
                   side_latent_symbols=coded["side_latent_symbols"],
                   image_size=coded["image_size"],
                   model_fingerprint=fingerprint.encode())
    np.savez(out_path, **coded, image=decoded["image"],
             decoder_scale_indexes=scales["latent_scale_indexes"])
    print(json.dumps(unregistered))


def _stock_script() -> str:
    functions = (_reachable_ops, _c_api, _c_session, _c_tensor, _c_array,
                 _c_run, _stock_client)
    return "\n\n".join(
        ["import sys"] +
        [inspect.getsource(f) for f in functions] +
        ["_stock_client(*sys.argv[1:])"])


@pytest.fixture(scope="module")
def stock_run(export_dir, model, tmp_path_factory):
    """The stock client's results, from one process without tfc."""
    directory = tmp_path_factory.mktemp("stock")
    image = photo_like(45, 77, seed=9)
    np.save(directory / "image.npy", image)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}  # the loader's log
    result = subprocess.run(
        [sys.executable, "-c", _stock_script(), str(export_dir),
         str(directory / "image.npy"), model.fingerprint().hex(),
         str(directory / "out.npz")],
        capture_output=True, text=True, env=env, cwd=directory)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return image, report, np.load(directory / "out.npz"), result.stderr


@pytest.mark.slow
def test_stock_signatures_use_core_ops_only(stock_run):
    _, report, _, _ = stock_run
    for name in ("encoder stock", "decoder stock",
                 "decoder stock_scale_indexes"):
        assert report[name] == [], name
    # The walk does find the range coder behind the full signatures.
    assert "CreateRangeEncoder" in report["encoder serving_default"]
    assert "CreateRangeDecoder" in report["decoder serving_default"]


@pytest.mark.slow
def test_cpp_loader_loads_both_without_tfc(stock_run):
    """TF Serving's loader restores the SavedModels in a process without
    tfc's ops; only the C API's later copy into a TF_Graph (which Serving
    does not make) trips over them."""
    _, report, _, log = stock_run
    assert log.count("SavedModel load for tags { serve }; "
                     "Status: success: OK") == 2
    for side in savedmodel.SIDES:
        message = report[f"{side} TF_LoadSessionFromSavedModel"]
        assert "Op type not registered" in message


@pytest.mark.slow
def test_stock_signatures_reconstruct_like_the_full_path(stock_run, model):
    image, _, out, _ = stock_run
    full = model.decompress(*model.compress(image), [45, 77]).numpy()
    assert np.array_equal(out["image"], full)
    assert list(out["image_size"]) == [45, 77]
    assert out["latent_symbols"].shape == (3, 5, 16)
    assert out["side_latent_symbols"].shape == (1, 2, 16)
    assert np.array_equal(out["decoder_scale_indexes"],
                          out["latent_scale_indexes"])


def test_client_range_codes_stock_outputs_with_the_tables(exported,
                                                          export_dir):
    """What BUILD_NOTES.md tells a client with tfc to do."""
    import tensorflow as tf
    import tensorflow_compression as tfc
    tables = json.loads(
        (export_dir / "encoder/1/assets/range_coding_tables.json").read_text())
    latent, side = tables["latent"], tables["side_latent"]
    image = tf.constant(photo_like(70, 90, seed=3))
    coded = exported.signature("encoder")(image=image)
    stock = exported.signature("encoder", "stock")(image=image)

    symbols, indexes = stock["latent_symbols"], stock["latent_scale_indexes"]
    handle = tfc.create_range_encoder([], latent["cdf"])
    handle = tfc.entropy_encode_index(
        handle, indexes, symbols - tf.gather(latent["cdf_offset"], indexes))
    assert tfc.entropy_encode_finalize(handle).numpy() == (
        coded["latent_bytes"].numpy())
    side_symbols = stock["side_latent_symbols"]
    handle = tfc.create_range_encoder([], side["cdf"])
    handle = tfc.entropy_encode_channel(handle,
                                        side_symbols - side["cdf_offset"])
    assert tfc.entropy_encode_finalize(handle).numpy() == (
        coded["side_latent_bytes"].numpy())

    # Decoding: side latents, then their scale indexes, then the latents.
    handle = tfc.create_range_decoder(coded["side_latent_bytes"],
                                      side["cdf"])
    handle, decoded = tfc.entropy_decode_channel(
        handle, tf.shape(side_symbols), tf.int32)
    assert np.array_equal(decoded + side["cdf_offset"], side_symbols)
    scales = exported.signature("decoder", "stock_scale_indexes")(
        side_latent_symbols=side_symbols, image_size=stock["image_size"])
    indexes = scales["latent_scale_indexes"]
    handle = tfc.create_range_decoder(coded["latent_bytes"], latent["cdf"])
    handle, decoded = tfc.entropy_decode_index(
        handle, indexes, tf.shape(indexes), tf.int32)
    assert np.array_equal(
        decoded + tf.gather(latent["cdf_offset"], indexes), symbols)


def test_an_export_codes_tiled_files_as_the_codec_does(model, exported,
                                                      export_dir):
    """Large images: the export's weights run model/tiling.py; decoding
    needs only the decoder (TF Serving's layout keeps the sides apart)."""
    image = photo_like(400, 300, seed=5)
    tiled = tfgancomp.compress(image, model, tile=16)
    assert bitstream.unpack(tiled).tile == 16
    assert tfgancomp.compress(image, exported, tile=16) == tiled
    decoded = np.asarray(tfgancomp.decompress(tiled, model))
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(tiled, exported)), decoded)
    decoder_only = tfgancomp.load_model(export_dir / "decoder")
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(tiled, decoder_only)), decoded)
    with pytest.raises(tfgancomp.ModelError, match="needs its encoder"):
        tfgancomp.compress(image, decoder_only, tile=16)
