"""`tfgancomp serve` through the ASGI test client: every endpoint, every
error (JSON, right status, no stack trace), jobs cancelled, expired and
refused, a full queue, and TF Serving's REST predict protocol."""

import base64
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from tests.conftest import photo_like  # noqa: E402
from tfgancomp.errors import TfgancompError  # noqa: E402
from tfgancomp.serve import jobs as jobs_module  # noqa: E402
from tfgancomp.serve.app import create_app  # noqa: E402
from tfgancomp.serve.registry import ModelRegistry  # noqa: E402
from tfgancomp.serve.settings import Settings  # noqa: E402
from tfgancomp.serve.uploads import Workspace, safe_name  # noqa: E402

MODEL = "default-gan"


@pytest.fixture(scope="module")
def registry():
    registry = ModelRegistry([MODEL])
    registry.load(warm=False)
    return registry


def client_for(registry, **limits):
    app = create_app(Settings(models=(MODEL,), **limits), registry)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(registry):
    with client_for(registry) as client:
        yield client


def png(height=48, width=64, seed=0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_like(height, width, seed)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tfgc(client) -> bytes:
    response = client.post("/api/compress", files={"file": ("a.png", png())})
    assert response.status_code == 200
    return response.content


def assert_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    assert "Traceback" not in response.text
    return body["error"]


def wait_for(client, job_id, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in jobs_module.ACTIVE:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def test_health_models_page_and_openapi(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["models"] == [MODEL]
    listing = client.get("/api/models").json()
    assert listing["default"] == MODEL
    (model,) = listing["models"]
    assert model["card"]["name"] == MODEL and model["default"]
    assert isinstance(model["knobs"], dict)
    assert client.get(f"/api/models/{MODEL}").json()["name"] == MODEL
    assert_error(client.get("/api/models/nope"), 404)
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/compress", "/api/decompress", "/api/compare",
                 "/api/models", "/api/jobs", "/api/jobs/{job_id}",
                 "/healthz", "/v1/models/{side}:predict"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_compress_then_decompress(client, tfgc, registry):
    import tfgancomp
    assert tfgc[:4] == b"TFGC"
    expected = np.asarray(tfgancomp.decompress(tfgc, registry.get()))
    response = client.post("/api/compress", files={
        "file": ("../../etc/My Photo.png", png())}, data={"effort": "0"})
    assert response.headers["content-type"] == "application/x-tfgc"
    assert 'filename="My_Photo.tfgc"' in response.headers[
        "content-disposition"]
    assert float(response.headers["x-tfgancomp-bpp"]) > 0
    decoded = client.post("/api/decompress", files={"file": ("a.tfgc",
                                                              tfgc)})
    assert decoded.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(
        decoded.content))), expected)
    for fmt, media in (("webp", "image/webp"), ("jpeg", "image/jpeg")):
        response = client.post("/api/decompress", data={"format": fmt},
                               files={"file": ("a.tfgc", tfgc)})
        assert response.headers["content-type"] == media
        assert Image.open(io.BytesIO(response.content)).size == (64, 48)


def test_compare(client, tfgc):
    original = png()
    values = client.post("/api/compare", files={
        "original": ("a.png", original), "other": ("a.tfgc", tfgc)}).json()
    assert 20 < values["psnr"] < 60 and 0 < values["ssim"] <= 1
    assert values["ms_ssim"] is None  # under 161 px a side
    assert values["bytes"] == len(tfgc)
    assert values["bpp"] == pytest.approx(8 * len(tfgc) / (48 * 64))
    same = client.post("/api/compare", files={
        "original": ("a.png", original), "other": ("b.png", original)})
    assert same.json()["psnr"] is None and same.json()["bpp"] is None
    assert "differ in size" in assert_error(client.post(
        "/api/compare", files={"original": ("a.png", original),
                               "other": ("b.png", png(32, 32))}), 400)


def test_errors_are_json_with_the_right_status(client, tfgc):
    assert "not an image" in assert_error(client.post(
        "/api/compress", files={"file": ("a.png", b"no image")}), 415)
    corrupted = tfgc[:30] + bytes([tfgc[30] ^ 1]) + tfgc[31:]
    assert_error(client.post("/api/decompress",
                             files={"file": ("a.tfgc", corrupted)}), 400)
    assert_error(client.post("/api/decompress",
                             files={"file": ("a.tfgc", b"TFGC")}), 400)
    assert "unknown model 'nope'" in assert_error(client.post(
        "/api/compress", data={"model": "nope"},
        files={"file": ("a.png", png())}), 404)
    assert_error(client.post("/api/compress",
                             data={"model": "../../../etc"},
                             files={"file": ("a.png", png())}), 404)
    assert_error(client.post("/api/compress", data={"effort": "9"},
                             files={"file": ("a.png", png())}), 400)
    assert_error(client.post("/api/compress", data={"effort": "x"},
                             files={"file": ("a.png", png())}), 422)
    assert_error(client.post("/api/decompress", data={"format": "gif"},
                             files={"file": ("a.tfgc", tfgc)}), 400)
    assert "file" in assert_error(client.post("/api/compress"), 422)
    assert_error(client.get("/api/nothing"), 404)
    assert_error(client.post("/api/compare", files={
        "original": ("a.png", png()), "other": ("b.png", b"junk")}), 415)


def test_a_knob_the_model_lacks_is_refused(client, registry):
    from tfgancomp.serve import knobs
    if "quality" in knobs.knobs(registry.get()):
        pytest.skip("the model has a quality knob")
    assert "no quality knob" in assert_error(client.post(
        "/api/compress", data={"quality": "0.5"},
        files={"file": ("a.png", png())}), 400)


def test_knobs_reach_the_api_where_the_model_has_them(client,
                                                     monkeypatch):
    from tfgancomp import api
    calls = []
    tfgc = api.compress(photo_like(48, 64), client.app.state.registry.get())

    def recording(image, model=None, effort=0, **knobs):
        calls.append(knobs)
        return tfgc
    monkeypatch.setattr(api, "knobs", lambda model: {
        "quality": True, "realism": False})
    monkeypatch.setattr(api, "compress", recording)
    (model,) = client.get("/api/models").json()["models"]
    assert model["knobs"] == {"quality": {
        "min": 0, "max": 1, "default": api.DEFAULT_QUALITY}}
    response = client.post("/api/compress", data={"quality": "0.5"},
                           files={"file": ("a.png", png())})
    assert response.status_code == 200 and calls == [{"quality": 0.5}]
    assert "from 0 to 1" in assert_error(client.post(
        "/api/compress", data={"quality": "5"},
        files={"file": ("a.png", png())}), 400)
    assert "no realism knob" in assert_error(client.post(
        "/api/jobs", data={"realism": "0.5"},
        files={"file": ("a.png", png())}), 400)


def test_too_large(registry):
    with client_for(registry, max_pixels=1000,
                    max_upload_bytes=60_000) as client:
        assert "pixels" in assert_error(client.post(
            "/api/compress", files={"file": ("a.png", png())}), 413)
        big = b"\0" * 70_000
        assert "larger than" in assert_error(client.post(
            "/api/compress", files={"file": ("a.png", big)}), 413)

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(8):
                yield b"\0" * 10_000
        assert_error(client.post(
            "/api/compress", content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"}),
            413)
        job = client.post("/api/jobs", files={"file": ("a.png", png())})
        job = wait_for(client, job.json()["id"])
        assert job["status"] == "failed" and "pixels" in job["error"]
        assert not list(client.app.state.workspace.root.iterdir())


def test_a_job_runs_to_its_results(client, tfgc):
    response = client.post("/api/jobs", files=[
        ("file", ("photo.png", png(64, 80))), ("file", ("b.tfgc", tfgc)),
        ("file", ("c.png", b"junk"))])
    assert response.status_code == 202
    assert response.headers["location"].endswith(response.json()["id"])
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1
    compressed, decoded, failed = job["items"]
    ours, jpeg, webp = compressed["codecs"]
    assert (ours["codec"], jpeg["codec"], webp["codec"]) == (
        "tfgancomp", "jpeg-420", "webp")
    assert ours["bpp"] == pytest.approx(8 * ours["bytes"] / (64 * 80))
    assert jpeg["bytes"] > 0 and webp["psnr"] > 10
    assert decoded["kind"] == "decoded" and decoded["width"] == 64
    assert "not an image" in failed["error"]
    files = compressed["files"]
    assert set(files) == {"tfgc", "original", "decoded", "jpeg-420", "webp"}
    data = client.get(files["tfgc"])
    assert data.content[:4] == b"TFGC" and len(data.content) == ours["bytes"]
    assert 'filename="photo.tfgc"' in data.headers["content-disposition"]
    image = client.get(decoded["files"]["decoded"])
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)
    assert_error(client.get(f"/api/jobs/{job['id']}/files/../../x"), 404)
    assert_error(client.get(f"/api/jobs/{job['id']}/files/9-tfgc"), 404)
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 200
    assert_error(client.get(f"/api/jobs/{job['id']}"), 404)
    assert_error(client.get(files["tfgc"]), 404)


def test_a_job_with_only_bad_files_fails(client):
    job = client.post("/api/jobs", files={"file": ("a.png", b"junk")})
    job = wait_for(client, job.json()["id"])
    assert job["status"] == "failed" and "not an image" in job["error"]
    assert_error(client.get("/api/jobs/0123"), 404)


@pytest.fixture
def busy(registry):
    """A client whose one worker is held until the test ends."""
    with client_for(registry, workers=1, queue_size=1,
                    jobs_per_client=2, retry_after=3) as client:
        release = threading.Event()
        held = client.app.state.jobs.call(release.wait, 30)
        yield client
        release.set()
        held.result(timeout=30)


def test_a_queued_job_is_cancelled(busy):
    job = busy.post("/api/jobs", files={"file": ("a.png", png())}).json()
    assert job["status"] == "queued"
    assert busy.delete(f"/api/jobs/{job['id']}").json()["status"] == (
        "cancelled")
    job = busy.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "cancelled" and job["items"] == []
    assert_error(busy.get(f"/api/jobs/{job['id']}/files/0-tfgc"), 409)
    assert busy.get("/healthz").json()["queue"]["pending"] == 1


def test_a_full_queue_answers_503_with_retry_after(busy):
    job = busy.post("/api/jobs", files={"file": ("a.png", png())})
    assert job.status_code == 202  # the one place in the queue
    for response in (
            busy.post("/api/compress", files={"file": ("a.png", png())}),
            busy.post("/api/jobs", files={"file": ("a.png", png())})):
        assert "busy" in assert_error(response, 503)
        assert int(response.headers["retry-after"]) >= 3
    # Only the queued job's upload is left: the refused ones are gone.
    assert len(list(busy.app.state.workspace.root.iterdir())) == 1


def test_jobs_per_client(registry):
    with client_for(registry, workers=1, queue_size=4,
                    jobs_per_client=1) as client:
        release = threading.Event()
        held = client.app.state.jobs.call(release.wait, 30)
        client.post("/api/jobs", files={"file": ("a.png", png())})
        response = client.post("/api/jobs", files={"file": ("a.png",
                                                            png())})
        assert "unfinished jobs" in assert_error(response, 429)
        assert "retry-after" in response.headers
        release.set()
        held.result(timeout=30)


def test_a_running_job_is_cancelled_and_expired_jobs_go(tmp_path):
    settings = Settings(models=(MODEL,), job_ttl=0.2)
    workspace = Workspace(str(tmp_path))
    queue = jobs_module.JobQueue(settings, workspace)
    started = threading.Event()

    def endless(job):
        job.add_file("0-x", b"partial", "text/plain", "x.txt")
        started.set()
        while True:
            job.report(0.5, "working")
            time.sleep(0.01)
    job = queue.submit("me", endless, workspace.new_dir())
    assert started.wait(10)
    queue.cancel(job.id)
    job.future.result(timeout=10)
    assert job.status == "cancelled" and not job.directory.exists()
    done = queue.submit("me", lambda job: job.add_file(
        "0-x", b"x", "text/plain", "x.txt"), workspace.new_dir())
    done.future.result(timeout=10)
    assert done.status == "done" and done.directory.exists()
    time.sleep(0.3)
    queue.sweep()
    with pytest.raises(jobs_module.JobNotFound):
        queue.get(done.id)
    assert not done.directory.exists()
    queue.close()
    workspace.close()
    assert not workspace.root.exists()


def test_a_failed_job_is_settled_before_it_says_so(tmp_path):
    """A client polling a job must never see it failed while its files are
    still on disk: the status changes last."""
    workspace = Workspace(str(tmp_path))
    queue = jobs_module.JobQueue(Settings(models=(MODEL,)), workspace)
    seen, running = [], []
    remove = workspace.remove

    def observed_remove(path):
        seen.append(running[0].status)
        time.sleep(0.05)  # a poll in here sees the job still running
        remove(path)
    workspace.remove = observed_remove

    def failing(job):
        running.append(job)
        job.add_file("0-x", b"partial", "text/plain", "x.txt")
        raise TfgancompError("bad input")
    job = queue.submit("me", failing, workspace.new_dir())
    job.future.result(timeout=10)
    assert seen == ["running"]
    assert job.status == "failed" and job.error == "bad input"
    assert not job.directory.exists()
    queue.close()
    workspace.close()


def test_tf_serving_predict(client, registry):
    image = photo_like(40, 56, seed=3)
    encoded = client.post("/v1/models/encoder:predict",
                          json={"inputs": {"image": image.tolist()}})
    outputs = encoded.json()["outputs"]
    assert outputs["image_size"] == [40, 56]
    assert outputs["model_fingerprint"] == registry.get().fingerprint().hex()
    latent = base64.b64decode(outputs["latent_bytes"]["b64"])
    string, _ = registry.get().compress(image)
    assert latent == string.numpy()
    decoded = client.post("/v1/models/decoder:predict",
                          json={"instances": [outputs, outputs]}).json()
    first, second = decoded["predictions"]
    expected = registry.get().decompress(
        string, base64.b64decode(outputs["side_latent_bytes"]["b64"]),
        [40, 56]).numpy()
    assert np.array_equal(np.array(first, np.uint8), expected)
    assert first == second
    row = client.post("/v1/models/encoder/versions/1:predict",
                      json={"instances": [image.tolist()]}).json()
    assert row["predictions"][0]["latent_bytes"] == outputs["latent_bytes"]
    stock = client.post("/v1/models/encoder:predict", json={
        "signature_name": "stock", "inputs": {"image": image.tolist()}})
    assert np.array(stock.json()["outputs"]["latent_symbols"]).shape[:2] == (
        3, 4)


def test_tf_serving_status_metadata_and_errors(client):
    status = client.get("/v1/models/decoder").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    signatures = client.get("/v1/models/encoder/metadata").json()[
        "metadata"]["signature_def"]["signature_def"]
    assert signatures["serving_default"]["inputs"]["image"]["dtype"] == (
        "DT_UINT8")
    predict = "/v1/models/decoder:predict"
    good = {"latent_bytes": {"b64": "AAAA"}, "side_latent_bytes": {
        "b64": "AAAA"}, "image_size": [16, 16],
        "model_fingerprint": "0" * 16}
    for body, status in (
            ({"inputs": dict(good, latent_bytes={"b64": "%%"})}, 400),
            ({"inputs": dict(good, image_size=[1, 2, 3])}, 400),
            ({"inputs": dict(good, image_size=[1 << 20, 1 << 20])}, 413),
            ({"inputs": dict(good, extra=1)}, 400),
            ({"inputs": good}, 400),  # another model's fingerprint
            ({"inputs": dict(good, image_size=[[1], [2, 3]])}, 400),
            ({"instances": {"a": 1}}, 400), ({"instances": []}, 400),
            ({"inputs": good, "instances": []}, 400), ([1, 2], 400)):
        assert_error(client.post(predict, json=body), status)
    assert_error(client.post(predict, content=b"{nope"), 400)
    assert_error(client.post("/v1/models/encoder:predict", json={
        "inputs": {"image": [[[256, 0, 0]]]}}), 400)
    assert_error(client.post("/v1/models/encoder:predict", json={
        "signature_name": "nope", "inputs": {"image": [[[0, 0, 0]]]}}), 400)
    assert_error(client.post("/v1/models/resnet:predict", json={}), 404)
    assert_error(client.get("/v1/models/encoder/versions/7"), 404)


def test_safe_names():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\Ünïcode photo.JPG") == "n_code_photo"
    assert safe_name("") == "image" and safe_name(".hidden") == "hidden"
    assert safe_name(None) == "image"


def test_the_command_parses_its_limits():
    from tfgancomp.cli import build_parser
    from tfgancomp.cli.serve import settings_of
    args = build_parser().parse_args(
        ["serve", "--port", "8123", "--models", "a,b", "--models", "c",
         "--max_pixels", "1000", "--max_upload_mb", "2"])
    settings = settings_of(args)
    assert settings.models == ("a", "b", "c") and settings.port == 8123
    assert settings.max_pixels == 1000
    assert settings.max_upload_bytes == 2 << 20 and settings.loopback
