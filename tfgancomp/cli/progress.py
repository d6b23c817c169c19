"""A progress bar on stderr for long runs."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """Call with (done, total). On a terminal one line is redrawn in place;
    elsewhere (a log file, a pipe) a plain line is written every 10%, so
    that nothing is garbled, or nothing at all with `terminal_only`."""

    WIDTH = 30

    def __init__(self, label: str, stream=None, terminal_only=False):
        self.label = label
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.silent = terminal_only and not self.terminal
        self.start = time.perf_counter()
        self.reported = -1  # last tenth reported off a terminal
        self.line = ""  # the bar shown on the terminal, if any

    def __call__(self, done: int, total: int) -> None:
        if self.silent:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / done * (total - done) if done else 0.0
        text = (f"{self.label} {done}/{total} ({100 * done // total}%), "
                f"{_duration(elapsed)} elapsed, {_duration(left)} left")
        if self.terminal:
            filled = self.WIDTH * done // total
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.line = "" if done == total else f"\r[{bar}] {text}"
            end = "\n" if done == total else ""
            self.stream.write(f"\r[{bar}] {text}{end}")
        elif 10 * done // total > self.reported:
            self.reported = 10 * done // total
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str, stream) -> None:
        """Prints a line of `text` to `stream` above the bar."""
        if self.line:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(text, file=stream, flush=True)
        if self.line:
            self.stream.write(self.line)
            self.stream.flush()
