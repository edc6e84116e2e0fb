# mypy: disable-error-code="import-not-found,import-untyped"
"""Per-request cost of the app itself, in process: no HTTP server, no load generator.

Started by benchmarks/service_load.py in a rendered project's venv. Builds the app with
`create_app(Settings())` (DATABASE_URL / REDIS_URL from the environment), runs its real lifespan,
and calls it as an ASGI application, one request after another, on uvloop as uvicorn would.
Prints one JSON object: per path, the median over blocks of CPU and wall milliseconds per
request. Sequential and measured in CPU time, so other work on the machine moves it little.
"""

import argparse
import asyncio
import importlib
import json
import statistics
import time
from collections.abc import Coroutine, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]


async def call(app: Any, path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0].get("status") != 200:
        raise RuntimeError(f"GET {path} answered {sent[0].get('status')}")


async def measure(package: str, paths: list[str], requests: int, blocks: int) -> dict[str, Any]:
    app_module = importlib.import_module(f"{package}.app")
    settings_module = importlib.import_module(f"{package}.settings")
    app = app_module.create_app(settings_module.Settings(_env_file=None))
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        cpu: dict[str, list[float]] = {path: [] for path in paths}
        wall: dict[str, list[float]] = {path: [] for path in paths}
        for path in paths:
            for _ in range(requests // 5):  # warm-up: caches, prepared statements, pools
                await call(app, path)
        for _ in range(blocks):
            for path in paths:  # interleaved block by block
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                for _ in range(requests):
                    await call(app, path)
                cpu[path].append(1000 * (time.process_time() - cpu_start) / requests)
                wall[path].append(1000 * (time.perf_counter() - wall_start) / requests)
        for path in paths:
            results[path] = {
                "cpu_ms": statistics.median(cpu[path]),
                "wall_ms": statistics.median(wall[path]),
            }
    return results


def run_on_loop(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """On uvloop where installed (uvicorn[standard] brings it, and uvicorn then uses it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: dict[str, Any] = uvloop.run(main)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True)
    parser.add_argument("--path", action="append", required=True, help="GET path, repeatable")
    parser.add_argument("--requests", type=int, default=1000, help="requests per block")
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    result = run_on_loop(measure(args.package, args.path, args.requests, args.blocks))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
