"""Errors as JSON `{"error": message}` with the right status (TF
Serving's error body), never a stack trace; and the request-body guard."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tfgancomp.errors import (
    BitstreamError,
    ConfigError,
    ImageError,
    ModelMismatchError,
    TfgancompError,
)
from tfgancomp.serve.jobs import JobNotFound, QueueFull, TooManyJobs
from tfgancomp.serve.registry import UnknownModel
from tfgancomp.serve.uploads import TooLarge

LOG = logging.getLogger("tfgancomp.serve")


class ApiError(TfgancompError):
    """An error with its HTTP status, raised by the routes."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# The first class that matches gives the status: subclasses first.
STATUS = ((TooLarge, 413), (UnknownModel, 404), (JobNotFound, 404),
          (TooManyJobs, 429), (QueueFull, 503), (ModelMismatchError, 422),
          (BitstreamError, 400), (ImageError, 415), (ConfigError, 400),
          (TfgancompError, 400))


def error_response(status: int, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers=headers)


def status_of(error: Exception) -> int:
    if isinstance(error, ApiError):
        return error.status
    return next(code for kind, code in STATUS if isinstance(error, kind))


def install(app: FastAPI) -> None:
    """Exception handlers for every error a request can end in."""

    @app.exception_handler(TfgancompError)
    async def known(request: Request, error: TfgancompError):
        headers = None
        if isinstance(error, QueueFull):
            headers = {"Retry-After": str(error.retry_after)}
        return error_response(status_of(error), str(error), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = []
        for e in error.errors():
            where = ".".join(str(p) for p in e.get("loc", ())[1:])
            problems.append(f"{where}: {e.get('msg', 'invalid')}"
                            if where else e.get("msg", "invalid"))
        return error_response(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(HTTPException)
    async def http(request: Request, error: HTTPException):
        return error_response(error.status_code, str(error.detail),
                              getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        LOG.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal error")


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes ends in 413,
    whether Content-Length says so or the bytes do (chunked uploads);
    the application never sees more than `limit` bytes."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > self.limit:
            return await self._refuse(send)
        received = 0
        over = False
        started = False

        async def limited_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over:
                return  # the 413 below answers instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps({"error": f"request body larger than "
                                    f"{self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
