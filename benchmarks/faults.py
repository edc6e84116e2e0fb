# mypy: disable-error-code="import-not-found,import-untyped"
"""Figures for the service under hostile input and faults (issue #11): status codes, latencies
under each fault, 413 timing, the Redis breaker's cost.

Runs with a rendered default project's interpreter, against that project served by uvicorn on
127.0.0.1 with Postgres and Redis containers of its own (stopped again at the end):

    eval "$(bash ../shared/ci/container-engine.sh)"
    uv run --project /tmp/proj python benchmarks/faults.py /tmp/proj

Prints one line per figure. Not a test: numbers, no pass/fail.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from testcontainers.community.postgres import PostgresContainer
from testcontainers.community.redis import RedisContainer

PACKAGE = "ticket_office"
PORT = 18_731
URL = f"http://127.0.0.1:{PORT}"


def timed(call: Callable[[], httpx.Response]) -> tuple[int | str, float]:
    started = time.monotonic()
    try:
        status: int | str = call().status_code
    except httpx.HTTPError as error:
        status = type(error).__name__
    return status, (time.monotonic() - started) * 1000


def report(name: str, value: object) -> None:
    print(f"{name:<58} {value}", flush=True)


def summary(samples: list[tuple[int | str, float]]) -> str:
    statuses = sorted({str(status) for status, _ in samples})
    times = [ms for _, ms in samples]
    return (
        f"status {'/'.join(statuses)}  median {statistics.median(times):.0f} ms"
        f"  max {max(times):.0f} ms  (n={len(samples)})"
    )


@contextmanager
def served(project: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "uvicorn", "--factory", f"{PACKAGE}.app:create_app"],
            *["--host", "127.0.0.1", "--port", str(PORT), "--no-access-log"],
        ],
        cwd=project,
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=open(project / "faults-bench.log", "wb"),  # noqa: SIM115
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"{URL}/health/live")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(30)


def bad_bodies(client: httpx.Client) -> None:
    bodies = [
        b'{"event":"x","price_cents":NaN}',
        b'{"event":"x","price_cents":Infinity}',
        b'{"event":"x","price_cents":-Infinity}',
        b'{"event":"x","price_cents":1e400}',
        b'{"event":"\\ud800","price_cents":1}',
        b'{"\\ud800":1,"event":"x","price_cents":1}',
        b"NaN",
        b'{"event":"x","price_cents":true}',
        b'{"event":"x","price_cents":1,"price_cents":2}',
        b'{"event":"\xff","price_cents":1}',
        b"[" * 100_000,
        b'{"event":"x","price_cents":' + b"9" * 5000 + b"}",
    ]
    statuses = [
        client.post("/tickets", content=body, headers={"content-type": "application/json"})
        for body in bodies
    ]
    report("12 hostile bodies: status codes", [r.status_code for r in statuses])
    report("  all JSON", all(r.headers["content-type"] == "application/json" for r in statuses))
    host = client.get("/tickets/", headers={"host": "evil.example"})
    report(
        "GET /tickets/ with Host: evil.example",
        f"{host.status_code} location={host.headers.get('location')}",
    )


def liveness_while(action: Callable[[], Any]) -> tuple[Any, float]:
    """Run `action`, polling /health/live meanwhile; the worst liveness latency in ms."""
    worst = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal worst
        with httpx.Client(base_url=URL) as probe:
            while not done.is_set():
                worst = max(worst, timed(lambda: probe.get("/health/live"))[1])

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = action()
    finally:
        done.set()
        poller.join()
    return result, worst


def body_limit(client: httpx.Client) -> None:
    big = b'{"event":"x","price_cents":1,"pad":"' + b"x" * (20 * 2**20) + b'"}'
    (status, ms), worst = liveness_while(
        lambda: timed(
            lambda: client.post(
                "/tickets", content=big, headers={"content-type": "application/json"}
            )
        )
    )
    report(
        "20 MB body (Content-Length): status, time",
        f"{status} in {ms:.0f} ms; /health/live worst {worst:.0f} ms",
    )

    def chunks() -> Iterator[bytes]:
        for _ in range(320):
            yield b"x" * 65_536

    (status, ms), worst = liveness_while(
        lambda: timed(
            lambda: client.post(
                "/tickets", content=chunks(), headers={"content-type": "application/json"}
            )
        )
    )
    report(
        "20 MB body (chunked, no length): status, time",
        f"{status} in {ms:.0f} ms; /health/live worst {worst:.0f} ms",
    )
    near = json.dumps({"event": "x", "price_cents": 1, "pad": list(range(120_000))}).encode()
    (status, ms), worst = liveness_while(
        lambda: [
            timed(
                lambda: client.post(
                    "/tickets", content=near, headers={"content-type": "application/json"}
                )
            )
            for _ in range(5)
        ][-1]
    )
    report(
        f"{len(near) / 2**20:.2f} MiB JSON array body x5: status, time",
        f"{status} in {ms:.0f} ms; /health/live worst {worst:.0f} ms",
    )


def postgres_faults(client: httpx.Client, postgres: PostgresContainer) -> None:
    wrapped = postgres.get_wrapped_container()
    client.get("/tickets")
    wrapped.pause()
    try:
        report(
            "Postgres paused: GET /tickets",
            summary([timed(lambda: client.get("/tickets")) for _ in range(3)]),
        )
        report(
            "Postgres paused: POST /tickets",
            summary(
                [
                    timed(lambda: client.post("/tickets", json={"event": "x", "price_cents": 1}))
                    for _ in range(2)
                ]
            ),
        )
        report(
            "Postgres paused: /health/ready (2 s setting)",
            summary([timed(lambda: client.get("/health/ready")) for _ in range(2)]),
        )
    finally:
        wrapped.unpause()
    report(
        "Postgres resumed: GET /tickets",
        summary([timed(lambda: client.get("/tickets")) for _ in range(3)]),
    )
    wrapped.stop(timeout=1)
    try:
        report(
            "Postgres stopped: GET /tickets",
            summary([timed(lambda: client.get("/tickets")) for _ in range(10)]),
        )
        retry_after = client.get("/tickets").headers.get("retry-after")
        report("  Retry-After", retry_after)
    finally:
        wrapped.start()
    for _ in range(100):
        if client.get("/health/ready").status_code == 200:
            break
        time.sleep(0.2)
    report(
        "Postgres restarted: GET /tickets",
        summary([timed(lambda: client.get("/tickets")) for _ in range(3)]),
    )


def redis_faults(client: httpx.Client, redis: RedisContainer) -> None:
    ticket = client.post("/tickets", json={"event": "Gig", "price_cents": 100}).json()["id"]
    path = f"/tickets/{ticket}"
    client.get(path)
    report("Redis up: cached GET", summary([timed(lambda: client.get(path)) for _ in range(50)]))
    wrapped = redis.get_wrapped_container()
    wrapped.pause()
    try:
        report(
            "Redis paused: first GET (pays the timeout)", summary([timed(lambda: client.get(path))])
        )
        report(
            "Redis paused: next GETs (breaker open)",
            summary([timed(lambda: client.get(path)) for _ in range(50)]),
        )
        bought = client.post(f"{path}/buy", json={"buyer": "ada"})
        report("Redis paused: buy", bought.status_code)
    finally:
        wrapped.unpause()
    time.sleep(5.2)  # the default cool-down
    after = client.get(path).json()
    report("Redis back: GET after the buy shows buyer", after.get("buyer"))
    report("Redis back: second buy", client.post(f"{path}/buy", json={"buyer": "bob"}).status_code)


def main() -> None:
    project = Path(sys.argv[1]).resolve()
    postgres = PostgresContainer(
        os.environ.get("TEST_POSTGRES_IMAGE", "postgres:17-alpine"), driver="asyncpg"
    ).with_bind_ports(5432, 15_731)
    redis = RedisContainer(os.environ.get("TEST_REDIS_IMAGE", "redis:7-alpine")).with_bind_ports(
        6379, 16_731
    )
    with postgres, redis:
        env = {
            "DATABASE_URL": postgres.get_connection_url(),
            "REDIS_URL": "redis://127.0.0.1:16731/0",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=project,
            env=os.environ | env,
            check=True,
            capture_output=True,
        )
        with served(project, env), httpx.Client(base_url=URL, timeout=120) as client:
            bad_bodies(client)
            body_limit(client)
            redis_faults(client, redis)
            postgres_faults(client, postgres)
        log = (project / "faults-bench.log").read_text()
        report("log lines with a traceback", log.count("Traceback"))
        report("log lines 'database unavailable'", log.count("database unavailable"))


if __name__ == "__main__":
    main()
