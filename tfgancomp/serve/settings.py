"""The service's settings: where it listens, which models, every limit."""

from __future__ import annotations

import dataclasses

from tfgancomp.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MEGABYTE = 1 << 20


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Served models (shipped names or directories); empty: every shipped
    # model. The first is the default of compress and of TF Serving's
    # `encoder`.
    models: tuple[str, ...] = ()
    workers: int = 1  # jobs and requests that run a model at once
    queue_size: int = 16  # waiting beyond the workers; then 503
    max_upload_bytes: int = 32 * MEGABYTE  # one request body
    max_pixels: int = 4096 * 1024  # per image, in and out
    max_files: int = 16  # per job
    jobs_per_client: int = 4  # queued or running background jobs
    job_ttl: float = 600.0  # seconds a finished job's results are kept
    job_timeout: float = 600.0  # seconds before a job is cancelled
    retry_after: int = 2  # seconds a 503 or 429 asks to wait, at least
    warm: bool = True  # run each model once at start

    def __post_init__(self):
        positive = ("port", "workers", "max_upload_bytes", "max_pixels",
                    "max_files", "jobs_per_client", "retry_after")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or (
                    value < 1):
                raise ConfigError(f"{name} must be a positive integer, got "
                                  f"{value!r}")
        if not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise ConfigError(f"queue_size must be 0 or more, got "
                              f"{self.queue_size!r}")
        for name in ("job_ttl", "job_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive seconds")
        if self.port > 65535:
            raise ConfigError(f"port must be at most 65535, got {self.port}")

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK
