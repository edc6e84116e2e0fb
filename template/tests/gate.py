"""A TCP relay in front of a real server, for fault tests: the network fails, the server is real.

`hung()` holds every byte both ways, as a frozen server does (connections stay open, nothing
answers); `down()` cuts every connection and refuses new ones, as a stopped server does. Any
server can sit behind a gate, an external one included, and no test waits for a server to stop
or start again. The relay runs an event loop in a thread of its own, so it keeps relaying
whatever the test's own loop (or a server thread) is doing.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOOPBACK = "127.0.0.1"
CHUNK = 65_536

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Gate:
    def __init__(self, url: str) -> None:
        """A gate in front of the server `url` names (TCP, or a Unix socket in `?host=/dir`)."""
        self._connect = _connector(url)
        self._url = url
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._relays: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gate", daemon=True)
        self._thread.start()
        self.port = self._run(self._listen(0))

    @property
    def url(self) -> str:
        """The server's URL, through the gate."""
        return _through(self._url, self.port)

    @contextmanager
    def hung(self) -> Iterator[None]:
        self._loop.call_soon_threadsafe(self._flowing.clear)
        try:
            yield
        finally:
            self._loop.call_soon_threadsafe(self._flowing.set)

    @contextmanager
    def down(self) -> Iterator[None]:
        self._run(self._cut())
        try:
            yield
        finally:
            self._run(self._listen(self.port))

    def close(self) -> None:
        self._run(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self, port: int) -> int:
        self._listener = await asyncio.start_server(self._relay, LOOPBACK, port)
        bound: int = self._listener.sockets[0].getsockname()[1]
        return bound

    async def _cut(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for relay in list(self._relays):
            relay.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        # The work runs in a task of its own: `down()` cancels it, never asyncio's handler task.
        work = asyncio.ensure_future(self._join(client, to_client))
        self._relays.add(work)
        try:
            with suppress(asyncio.CancelledError):
                await work
        finally:
            to_client.close()
            self._relays.discard(work)

    async def _join(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # a frozen server accepts, then never answers
        try:
            server, to_server = await self._connect()
        except OSError:
            return  # the server refused: the client sees its connection closed
        pipes = [self._pipe(client, to_server), self._pipe(server, to_client)]
        tasks = [asyncio.ensure_future(pipe) for pipe in pipes]
        try:  # one side closing ends the connection, as it would without the gate
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            to_server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()


def _connector(url: str) -> Callable[[], Awaitable[Streams]]:
    parts = urlsplit(url)
    socket_directory = dict(parse_qsl(parts.query)).get("host", "")
    if socket_directory.startswith("/"):  # PostgreSQL on a Unix socket (embedded)
        path = f"{socket_directory}/.s.PGSQL.{parts.port or 5432}"
        return lambda: asyncio.open_unix_connection(path)
    host, port = parts.hostname or LOOPBACK, parts.port
    return lambda: asyncio.open_connection(host, port)


def _through(url: str, port: int) -> str:
    """`url` with the gate's address in place of the server's (user, path and options kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    query = [(name, value) for name, value in parse_qsl(parts.query) if name != "host"]
    netloc = f"{user}@{LOOPBACK}:{port}" if user else f"{LOOPBACK}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
