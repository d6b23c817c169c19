"""`tfgancomp serve`: warm models behind an HTTP API, a page, and TF
Serving's REST predict protocol (the optional `serve` extra: FastAPI,
uvicorn, python-multipart).

    settings.py   limits and knobs of the service (one frozen dataclass)
    registry.py   the served models, loaded once and kept warm
    knobs.py      quality / realism: which model has which (one place)
    uploads.py    the private workspace: uploads, limits, safe reading
    work.py       what a request or a job does: compress, decode, measure
    jobs.py       the bounded job queue: workers, progress, cancel, expiry
    errors.py     JSON errors, the body-size guard
    routes.py     /api/… and /healthz
    tfserving.py  /v1/models/{encoder|decoder}:predict and friends
    app.py        create_app(settings): the ASGI application
    static/       the page at / (plain HTML, CSS and JS: no build step)

Nothing here is imported by `import tfgancomp`.
"""
