"""Stopping dev: signals raise a flag that dev checks between steps."""

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Stopped(Exception):
    """A stop signal arrived: what dev started is stopped, and dev exits with status 0."""


class StopFlag:
    """Ctrl-C, SIGTERM and SIGHUP set a flag that dev checks between steps; no step is cut short.

    A third signal quits at once, leaving running whatever was being started. Signals that come
    within ECHO_SECONDS of the one before count once: under `uv run`, one Ctrl-C reaches dev
    twice (from the terminal, and forwarded by uv), so two presses looked like four signals.
    """

    ECHO_SECONDS = 0.5

    def __init__(self, leftovers: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._leftovers = leftovers  # how to find what may be left running
        self._clock = clock
        self._event = threading.Event()
        self._count = 0
        self._last = -self.ECHO_SECONDS

    def install(self) -> None:
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = self._clock()
        echo, self._last = now - self._last < self.ECHO_SECONDS, now
        self._event.set()
        if echo:
            return
        self._count += 1
        if self._count == 1:  # os.write: print() is not safe inside a signal handler
            os.write(2, b"dev: stopping\n")
        elif self._count == 2:
            os.write(2, b"dev: still stopping (the current step ends first); again to quit now\n")
        else:
            note = f"dev: quit; what it started may still run ({self._leftovers})\n"
            os.write(2, note.encode())
            os._exit(128 + signum)

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def check(self) -> None:
        if self._event.is_set():
            raise Stopped
