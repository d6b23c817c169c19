"""tfgancomp serve: the HTTP service and its page (tfgancomp.serve)."""

from __future__ import annotations

import os

from tfgancomp.cli.common import say
from tfgancomp.errors import TfgancompError


def add_parsers(commands):
    from tfgancomp.serve.settings import Settings
    d = Settings()
    p = commands.add_parser(
        "serve", help="HTTP API, page and TF Serving REST predict, with "
                      "the models kept warm (needs tfgancomp[serve])")
    p.add_argument("--host", default=d.host,
                   help=f"address to listen on (default {d.host}: this "
                        "machine only)")
    p.add_argument("--port", type=int, default=d.port,
                   help=f"default {d.port}")
    p.add_argument("--models", action="append", default=[],
                   help="models to serve, comma-separated or repeated: "
                        "shipped names or directories (default: every "
                        "shipped model; the first is the default)")
    p.add_argument("--workers", type=int, default=d.workers,
                   help=f"model calls run at once (default {d.workers})")
    p.add_argument("--queue_size", type=int, default=d.queue_size,
                   help="calls waiting beyond those; more get 503 "
                        f"(default {d.queue_size})")
    p.add_argument("--max_upload_mb", type=float,
                   default=d.max_upload_bytes / 2**20,
                   help="largest request body in MiB (default "
                        f"{d.max_upload_bytes / 2**20:g})")
    p.add_argument("--max_pixels", type=int, default=d.max_pixels,
                   help=f"largest image in pixels (default {d.max_pixels})")
    p.add_argument("--max_files", type=int, default=d.max_files,
                   help=f"files per job (default {d.max_files})")
    p.add_argument("--jobs_per_client", type=int, default=d.jobs_per_client,
                   help="unfinished background jobs per client address "
                        f"(default {d.jobs_per_client})")
    p.add_argument("--job_ttl", type=float, default=d.job_ttl,
                   help="seconds a finished job's results are kept "
                        f"(default {d.job_ttl:g})")
    p.add_argument("--job_timeout", type=float, default=d.job_timeout,
                   help="seconds before an unfinished job is cancelled "
                        f"(default {d.job_timeout:g})")
    p.add_argument("--log_level", default="info",
                   choices=("critical", "error", "warning", "info",
                            "debug"))
    p.set_defaults(run=serve)


def settings_of(args):
    from tfgancomp.serve.settings import Settings
    models = tuple(m.strip() for value in args.models
                   for m in value.split(",") if m.strip())
    return Settings(
        host=args.host, port=args.port, models=models, workers=args.workers,
        queue_size=args.queue_size,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=args.max_pixels, max_files=args.max_files,
        jobs_per_client=args.jobs_per_client, job_ttl=args.job_ttl,
        job_timeout=args.job_timeout)


def serve(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    settings = settings_of(args)  # bad limits fail before any import
    try:
        import uvicorn

        from tfgancomp.serve.app import create_app
    except ImportError as e:
        raise TfgancompError(f"serve needs the serve extra ({e.name} is "
                             "missing): pip install 'tfgancomp[serve]'")
    from tfgancomp.cli.common import quiet_tensorflow
    from tfgancomp.deploy import resolve
    from tfgancomp.serve.registry import ModelRegistry
    registry = ModelRegistry(settings.models)
    for model in registry.sources:
        resolve.resolve(model)  # a wrong name fails before TensorFlow
    quiet_tensorflow()
    if not settings.loopback:
        say(f"note: listening on {settings.host}, not only this machine: "
            "put it behind a proxy that terminates TLS")
    say(f"loading {', '.join(map(str, registry.sources))} …")
    registry.load(warm=True)
    say(f"tfgancomp serve: http://{settings.host}:{settings.port}/ "
        f"(API docs at /docs)")
    uvicorn.run(create_app(settings, registry), host=settings.host,
                port=settings.port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
