"""The job queue: a fixed number of workers run every model call (a
request's or a background job's); beyond `queue_size` waiting, a new one is
refused (503 with Retry-After) rather than piled up.

Background jobs report progress, can be cancelled (queued: at once;
running: at their next progress report), are cancelled past
`job_timeout`, and are forgotten, files and all, `job_ttl` seconds after
they end.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import math
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

from tfgancomp.errors import TfgancompError

LOG = logging.getLogger("tfgancomp.serve")
QUEUED, RUNNING, DONE = "queued", "running", "done"
FAILED, CANCELLED = "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)


class QueueFull(TfgancompError):
    """Every worker busy and the queue full (503)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class TooManyJobs(QueueFull):
    """A client has its quota of unfinished jobs (429)."""


class JobNotFound(TfgancompError):
    """No such job, or no longer (404)."""


class Cancelled(Exception):
    """Raised inside a job at its next progress report once cancelled."""


@dataclasses.dataclass
class JobFile:
    path: Path
    media_type: str
    download_name: str


@dataclasses.dataclass
class Job:
    id: str
    client: str
    directory: Path
    created: float = dataclasses.field(default_factory=time.time)
    status: str = QUEUED
    progress: float = 0.0
    message: str = "waiting for a worker"
    error: str | None = None
    finished: float | None = None
    items: list = dataclasses.field(default_factory=list)
    files: dict = dataclasses.field(default_factory=dict)
    cancel_event: threading.Event = dataclasses.field(
        default_factory=threading.Event)
    future: concurrent.futures.Future | None = None

    def report(self, fraction: float, message: str) -> None:
        """Progress from the work; raises Cancelled once cancelled."""
        if self.cancel_event.is_set():
            raise Cancelled
        self.progress = max(0.0, min(1.0, fraction))
        self.message = message

    def add_file(self, key: str, data: bytes, media_type: str,
                 download_name: str) -> None:
        """Keeps a result under a generated file name."""
        path = self.directory / secrets.token_hex(8)
        path.write_bytes(data)
        self.files[key] = JobFile(path, media_type, download_name)


class JobQueue:
    def __init__(self, settings, workspace):
        self.settings = settings
        self.workspace = workspace
        self._executor = concurrent.futures.ThreadPoolExecutor(
            settings.workers, thread_name_prefix="tfgancomp-worker")
        self._lock = threading.Lock()
        self._pending = 0  # queued and running calls, jobs included
        self._jobs: dict[str, Job] = {}
        self._seconds = collections.deque([1.0], maxlen=32)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_loop,
                                         name="tfgancomp-sweeper",
                                         daemon=True)
        self._sweeper.start()

    # Capacity.
    def retry_after(self) -> int:
        mean = sum(self._seconds) / len(self._seconds)
        wait = math.ceil(mean * self._pending / self.settings.workers)
        return max(self.settings.retry_after, wait)

    def _reserve(self) -> None:
        limit = self.settings.workers + self.settings.queue_size
        if self._pending >= limit:
            raise QueueFull(f"the server is busy ({self._pending} requests "
                            "queued or running): try again later",
                            self.retry_after())
        self._pending += 1

    def _release(self, started: float | None) -> None:
        with self._lock:
            self._pending -= 1
            if started is not None:
                self._seconds.append(time.perf_counter() - started)

    def stats(self) -> dict:
        with self._lock:
            return {"workers": self.settings.workers,
                    "queue_size": self.settings.queue_size,
                    "pending": self._pending, "jobs": len(self._jobs)}

    # Calls of a request: run on a worker, awaited by the request.
    def call(self, function: Callable, *args) -> concurrent.futures.Future:
        with self._lock:
            self._reserve()

        def run():
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                self._release(started)
        try:
            return self._executor.submit(run)
        except RuntimeError:  # shutting down
            self._release(None)
            raise QueueFull("the server is shutting down", 1) from None

    # Background jobs.
    def submit(self, client: str, work: Callable[[Job], None],
               directory: Path) -> Job:
        """Queues `work(job)`, whose files live in `directory` (a
        workspace directory, removed with the job); QueueFull,
        TooManyJobs."""
        self.sweep()
        with self._lock:
            active = sum(j.client == client and j.status in ACTIVE
                         for j in self._jobs.values())
            if active >= self.settings.jobs_per_client:
                raise TooManyJobs(
                    f"you have {active} unfinished jobs, the most this "
                    "server runs for one client: wait for one to end",
                    self.retry_after())
            self._reserve()
            job = Job(id=secrets.token_hex(16), client=client,
                      directory=directory)
            self._jobs[job.id] = job
        try:
            job.future = self._executor.submit(self._run, job, work)
        except RuntimeError:
            self._finish(job, CANCELLED, "the server is shutting down")
            self._release(None)
        return job

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        started = time.perf_counter()
        try:
            if job.cancel_event.is_set():
                raise Cancelled
            job.status, job.message = RUNNING, "started"
            work(job)
            job.progress = 1.0
            self._finish(job, DONE, "done")
        except Cancelled:
            self._finish(job, CANCELLED, job.error or "cancelled")
        except TfgancompError as e:
            self._finish(job, FAILED, str(e))
        except Exception:  # never a stack trace to the client
            LOG.exception("job %s failed", job.id)
            self._finish(job, FAILED, "internal error")
        finally:
            self._release(started)

    def _finish(self, job: Job, status: str, message: str) -> None:
        """Settles a job; its status changes last, so a client that sees
        it finished never sees a failed job's files still on disk."""
        if status == DONE:
            job.message = message
        else:
            job.files.clear()
            job.items.clear()
            self.workspace.remove(job.directory)
            job.message = job.error = message
        job.finished = time.time()
        job.status = status

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job '{job_id[:40]}' (finished jobs are "
                              f"kept {self.settings.job_ttl:g} s)")
        return job

    def cancel(self, job_id: str, reason: str = "cancelled") -> Job:
        """Cancels an unfinished job; a finished one is deleted with its
        results."""
        job = self.get(job_id)
        if job.status not in ACTIVE:
            self._forget(job)
            return job
        job.error = reason
        job.cancel_event.set()
        if job.future is not None and job.future.cancel():
            self._finish(job, CANCELLED, reason)
            self._release(None)
        return job

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
        job.files.clear()
        self.workspace.remove(job.directory)

    def sweep(self) -> None:
        """Cancels jobs past their timeout; forgets jobs past their ttl."""
        now = time.time()
        for job in list(self._jobs.values()):
            if job.status in ACTIVE:
                if now - job.created > self.settings.job_timeout:
                    self.cancel(job.id, "timed out")
            elif now - job.finished > self.settings.job_ttl:
                self._forget(job)

    def _sweep_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.sweep()
            except Exception:
                LOG.exception("sweeping jobs failed")

    def close(self) -> None:
        self._stop.set()
        for job in list(self._jobs.values()):
            if job.status in ACTIVE:
                self.cancel(job.id, "the server stopped")
        self._executor.shutdown(wait=True, cancel_futures=True)
        for job in list(self._jobs.values()):
            self._forget(job)
