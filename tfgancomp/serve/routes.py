"""The JSON/HTTP API under /api/, and /healthz.

Uploads arrive as multipart files in the field `file` (`original` and
`other` for compare), go to the private workspace under generated names,
and are removed when the request or job that took them ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tfgancomp.errors import TfgancompError
from tfgancomp.serve import knobs, work
from tfgancomp.serve.errors import ApiError
from tfgancomp.serve.jobs import DONE
from tfgancomp.serve.uploads import safe_name, store

router = APIRouter()
TFGC_TYPE = "application/x-tfgc"
# A job's result files: role -> (media type, download name's suffix).
ROLES = {"tfgc": (TFGC_TYPE, ".tfgc"),
         "original": ("image/png", "-original.png"),
         "decoded": ("image/png", ".png"),
         "jpeg-420": ("image/jpeg", "-jpeg.jpg"),
         "webp": ("image/webp", "-webp.webp")}
MODEL = Form(None, description="a served model's name (GET /api/models); "
                               "default: the first served model")
EFFORT = Form(0, description="0: one encoder pass; 1-3: refine the latents "
                             "(seconds per image, smaller files)")
QUALITY = Form(None, description="the compress knob, where the model has "
                                 "it (GET /api/models: knobs)")
REALISM = Form(None, description="the decompress knob, where the model "
                                 "has it (GET /api/models: knobs)")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def run_on_worker(request: Request, function, *args):
    """Runs a model call on the job queue's workers and awaits it."""
    future = request.app.state.jobs.call(function, *args)
    return await asyncio.wrap_future(future)


@contextlib.asynccontextmanager
async def _stored(request: Request, uploads: list[UploadFile]):
    """The uploads' bytes, through files in a private directory that is
    removed afterwards."""
    state = request.app.state
    directory = state.workspace.new_dir()
    try:
        paths = [await run_in_threadpool(
            store, upload.file, directory, state.settings.max_upload_bytes)
            for upload in uploads]
        yield [path.read_bytes() for path in paths]
    finally:
        state.workspace.remove(directory)


def _check_knobs(request: Request, options: work.Options) -> None:
    """Fails early (before queueing) on a model or knob it lacks."""
    model = request.app.state.registry.get(options.model)
    knobs.compress_arguments(model, options.quality)
    knobs.decompress_arguments(model, options.realism)


@router.get("/healthz", tags=["service"])
async def healthz(request: Request):
    """Alive, with the models loaded and the queue's load."""
    state = request.app.state
    return {"status": "ok", "models": state.registry.names,
            "queue": state.jobs.stats()}


@router.get("/api/models", tags=["models"])
async def models(request: Request):
    """The served models: cards (shipped models) and knobs."""
    registry = request.app.state.registry
    return {"default": registry.default,
            "models": [registry.describe(n) for n in registry.names],
            "formats": list(work.FORMATS)}


@router.get("/api/models/{name}", tags=["models"])
async def model(request: Request, name: str):
    return request.app.state.registry.describe(name)


@router.post("/api/compress", tags=["coding"], response_class=Response,
             responses={200: {"content": {TFGC_TYPE: {}}}})
async def compress(request: Request, file: UploadFile = File(...),
                   model: str | None = MODEL, effort: int = EFFORT,
                   quality: float | None = QUALITY):
    """An image in, its .tfgc file out."""
    options = work.Options(model=model, effort=effort, quality=quality)
    _check_knobs(request, options)
    async with _stored(request, [file]) as (data,):
        tfgc, facts = await run_on_worker(
            request, work.compress, request.app.state.registry, data,
            options, request.app.state.settings.max_pixels)
    return Response(tfgc, media_type=TFGC_TYPE, headers={
        **_attachment(safe_name(file.filename) + ".tfgc"),
        "X-Tfgancomp-Model": facts["model"],
        "X-Tfgancomp-Bpp": f"{facts['bpp']:.6f}"})


@router.post("/api/decompress", tags=["coding"], response_class=Response,
             responses={200: {"content": {"image/png": {},
                                          "image/webp": {},
                                          "image/jpeg": {}}}})
async def decompress(request: Request, file: UploadFile = File(...),
                     model: str | None = MODEL,
                     realism: float | None = REALISM,
                     format: str = Form("png", description="png, webp or "
                                                           "jpeg")):
    """A .tfgc file in, the decoded image out."""
    options = work.Options(model=model, realism=realism, format=format)
    if model:
        _check_knobs(request, options)
    async with _stored(request, [file]) as (data,):
        image, facts = await run_on_worker(
            request, work.decompress, request.app.state.registry, data,
            options, request.app.state.settings.max_pixels)
    name = safe_name(file.filename) + facts["extension"]
    return Response(image, media_type=facts["media_type"], headers={
        **_attachment(name), "X-Tfgancomp-Model": facts["model"]})


@router.post("/api/compare", tags=["coding"])
async def compare(request: Request, original: UploadFile = File(...),
                  other: UploadFile = File(..., description="an image, or "
                                           "a .tfgc file to decode")):
    """PSNR, SSIM, MS-SSIM of `other` against `original`; bytes and bpp
    of `other` where it is a compressed file."""
    async with _stored(request, [original, other]) as (a, b):
        state = request.app.state
        return await run_on_worker(request, work.compare, state.registry,
                                   a, b, state.settings.max_pixels)


def _job_json(job, settings) -> dict:
    expires = None if job.finished is None else (job.finished
                                                 + settings.job_ttl)
    items = [dict(item, files={role: f"/api/jobs/{job.id}/files/{key}"
                               for role, key in item.get("files", {}).items()})
             for item in list(job.items)]
    return {"id": job.id, "status": job.status,
            "progress": round(job.progress, 4), "message": job.message,
            "error": job.error, "created": job.created, "expires": expires,
            "items": items}


def _job_work(registry, inputs, options, max_pixels):
    """A job's work: each file in turn; a file that fails is reported in
    its item, and the job fails only if every file did."""
    def run(job):
        errors = []
        for index, (path, name) in enumerate(inputs):
            def report(fraction, message, index=index):
                prefix = f"{name}: " if len(inputs) > 1 else ""
                job.report((index + fraction) / len(inputs),
                           prefix + message)
            stem = safe_name(name)
            try:
                facts, files = work.process(registry, path.read_bytes(),
                                            options, max_pixels, report)
            except TfgancompError as e:
                errors.append(e)
                job.items.append({"name": stem, "error": str(e)})
                continue
            finally:
                path.unlink(missing_ok=True)
            item = dict(facts, name=stem, files={})
            for role, data in files.items():
                media_type, suffix = ROLES[role]
                job.add_file(f"{index}-{role}", data, media_type,
                             stem + suffix)
                item["files"][role] = f"{index}-{role}"
            job.items.append(item)
        if len(errors) == len(inputs):
            raise errors[0]
    return run


@router.post("/api/jobs", tags=["jobs"], status_code=202)
async def create_job(request: Request,
                     file: list[UploadFile] = File(..., description=
                                                   "images to compress and "
                                                   "measure, .tfgc files to "
                                                   "decode"),
                     model: str | None = MODEL, effort: int = EFFORT,
                     quality: float | None = QUALITY,
                     realism: float | None = REALISM):
    """A background job: each image is compressed, decoded and measured
    next to JPEG and WebP at the same size; each .tfgc is decoded. Poll
    GET /api/jobs/{id}; results are kept for a limited time."""
    state = request.app.state
    settings = state.settings
    if len(file) > settings.max_files:
        raise ApiError(413, f"{len(file)} files; a job takes at most "
                            f"{settings.max_files}")
    options = work.Options(model=model, effort=effort, quality=quality,
                           realism=realism)
    _check_knobs(request, options)
    directory = state.workspace.new_dir()
    try:
        inputs = [(await run_in_threadpool(store, upload.file, directory,
                                           settings.max_upload_bytes),
                   upload.filename) for upload in file]
        job = state.jobs.submit(
            _client(request),
            _job_work(state.registry, inputs, options, settings.max_pixels),
            directory)
    except BaseException:
        state.workspace.remove(directory)
        raise
    return JSONResponse(_job_json(job, settings), status_code=202,
                        headers={"Location": f"/api/jobs/{job.id}"})


@router.get("/api/jobs/{job_id}", tags=["jobs"])
async def job_status(request: Request, job_id: str):
    """Status, progress and, once done, the results and their files."""
    job = request.app.state.jobs.get(job_id)
    return _job_json(job, request.app.state.settings)


@router.get("/api/jobs/{job_id}/files/{key}", tags=["jobs"],
            response_class=FileResponse)
async def job_file(request: Request, job_id: str, key: str):
    """One result file of a finished job."""
    job = request.app.state.jobs.get(job_id)
    if job.status != DONE:
        raise ApiError(409, f"job {job.id} is {job.status}, not done")
    found = job.files.get(key)
    if found is None:
        raise ApiError(404, f"job {job.id} has no file '{key[:40]}'")
    return FileResponse(found.path, media_type=found.media_type,
                        filename=found.download_name)


@router.delete("/api/jobs/{job_id}", tags=["jobs"])
async def cancel_job(request: Request, job_id: str):
    """Cancels a queued or running job; deletes a finished one."""
    job = request.app.state.jobs.cancel(job_id)
    body = _job_json(job, request.app.state.settings)
    body["deleted"] = time.time()
    return body
