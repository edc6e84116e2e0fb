"""Graceful shutdown for rolling restarts.

On SIGTERM: readiness answers 503 at once (the orchestrator stops routing here) while new
requests are still served for `SHUTDOWN_DELAY_SECONDS` (a balancer polling readiness needs that
long to notice). Then the server's own shutdown begins: it takes no new connection and closes
each kept-alive one after its response (under steady traffic, waiting for a moment with nothing
in flight never ends), requests in flight get `SHUTDOWN_GRACE_SECONDS` to finish, the rest are cut
(503 if not answered yet), and the lifespan closes the resources.
"""

import asyncio
import contextvars
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .asgi import WatchedSend

logger = logging.getLogger(__name__)

SignalHandler = Callable[[int, FrameType | None], object]
SHUTTING_DOWN = JSONResponse(
    {"detail": "The server is shutting down; retry"},
    status_code=503,
    headers={"Retry-After": "1", "Connection": "close"},
)


class Drain:
    def __init__(self, grace_seconds: float, delay_seconds: float = 0.0) -> None:
        self.grace_seconds = grace_seconds
        self.delay_seconds = delay_seconds
        self.draining = False
        # Each request in flight, by its task: "METHOD /path", for the log if it is cut.
        self.in_flight: dict[asyncio.Task[object], str] = {}
        self.idle = asyncio.Event()
        self.idle.set()
        self.cut: set[asyncio.Task[object]] = set()
        self.finishing: asyncio.Task[None] | None = None

    @contextmanager
    def on_sigterm(self) -> Iterator[None]:
        """Put draining in front of the server's SIGTERM handler while the app runs.

        Only when a server (uvicorn) handles SIGTERM in this, the main, thread: elsewhere, e.g.
        under pytest, signals are left alone.
        """
        installed = signal.getsignal(signal.SIGTERM)
        if not callable(installed) or threading.current_thread() is not threading.main_thread():
            yield
            return
        server_handler: SignalHandler = installed
        loop = asyncio.get_running_loop()

        def begin(sig: int, frame: FrameType | None) -> None:
            if self.draining:  # a second SIGTERM: stop now
                server_handler(sig, frame)
                return
            self.draining = True
            # A context of its own: the signal arrives in whatever request's context is current,
            # and the drain's log lines must not carry that request's id.
            loop.call_soon_threadsafe(
                self._start_finishing, server_handler, sig, context=contextvars.Context()
            )

        signal.signal(signal.SIGTERM, begin)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, server_handler)

    def _start_finishing(self, server_handler: SignalHandler, sig: int) -> None:
        # Held, so the task cannot be garbage-collected while it waits.
        self.finishing = asyncio.get_running_loop().create_task(self._finish(server_handler, sig))

    async def _finish(self, server_handler: SignalHandler, sig: int) -> None:
        logger.warning(
            "SIGTERM: readiness is 503, new requests are served %gs more; %d request(s) in "
            "flight get up to %gs to finish",
            self.delay_seconds,
            len(self.in_flight),
            self.grace_seconds,
        )
        await asyncio.sleep(self.delay_seconds)
        server_handler(sig, None)
        with suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), self.grace_seconds)
        for task, request in self.in_flight.items():
            logger.warning("request still running after the grace period: cancelled: %s", request)
            self.cut.add(task)
            task.cancel()


class CountInFlight:
    """Tracks requests in flight for the drain (health probes excluded: they must not hold
    shutdown up)."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or task is None or scope["path"].startswith("/health/"):
            await self.app(scope, receive, send)
            return
        self.drain.in_flight[task] = f"{scope['method']} {scope['path']}"
        self.drain.idle.clear()
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if task not in self.drain.cut:
                raise
            # Cut by the drain, not by the server: answer what can still be answered.
            task.uncancel()
            if not watched.response_started:
                await SHUTTING_DOWN(scope, receive, send)
        finally:
            self.drain.cut.discard(task)
            self.drain.in_flight.pop(task, None)
            if not self.drain.in_flight:
                self.drain.idle.set()
