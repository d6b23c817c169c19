"""`create_app(settings)`: the ASGI application of `tfgancomp serve`.

At start it loads (and warms) the served models and opens the private
workspace and the job queue; at shutdown it cancels the jobs and removes
the workspace.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from tfgancomp.serve import errors, routes, tfserving
from tfgancomp.serve.jobs import JobQueue
from tfgancomp.serve.registry import ModelRegistry
from tfgancomp.serve.settings import Settings
from tfgancomp.serve.uploads import Workspace

STATIC = Path(__file__).resolve().parent / "static"
LOG = logging.getLogger("tfgancomp.serve")


def create_app(settings: Settings | None = None,
               registry: ModelRegistry | None = None) -> FastAPI:
    """The application; `registry` (loaded) is reused when given, else
    the settings' models are loaded at start."""
    from tfgancomp import __version__
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings = settings
        state.registry = registry or ModelRegistry(settings.models)
        if not state.registry.names:
            state.registry.load(warm=settings.warm)
        state.workspace = Workspace()
        state.jobs = JobQueue(settings, state.workspace)
        LOG.info("serving %s", ", ".join(state.registry.names))
        try:
            yield
        finally:
            state.jobs.close()
            state.workspace.close()

    app = FastAPI(
        title="tfgancomp", version=__version__, lifespan=lifespan,
        description="Learned image compression: compress, decompress and "
                    "compare, background jobs, and TF Serving's REST "
                    "predict protocol for the exported signatures. Errors "
                    "are JSON: {\"error\": message}.")
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(tfserving.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.add_middleware(errors.BodyLimit, limit=settings.max_upload_bytes)
    return app
