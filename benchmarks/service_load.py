"""HTTP throughput and latency of the generated service under uvicorn, driven by wrk on loopback.

Run from the repo root, with Docker up and wrk installed (see BENCHMARKS.md):

    eval "$(../shared/ci/container-engine.sh)"
    uv run python benchmarks/service_load.py

Renders the default variant, and the use_cache=false variant as the true uncached baseline;
starts Postgres and Redis containers (bench-load-<run id>-*), migrates and seeds the database,
then runs three uvicorn servers on 127.0.0.1 (`--factory <pkg>.app:create_app`, no access log):

- cached:    the default variant, Redis up;
- uncached:  the use_cache=false variant: GET /tickets/{id} always reads Postgres;
- fail-open: the default variant with REDIS_URL on a port where nothing listens: every Redis
             call is refused at once and the read goes to Postgres (refusals and the cache's
             warning log lines included in its cost).

Each phase is `wrk` for a fixed time after a short untimed warm-up; everything started here is
stopped here. Goals: cached read >= 70% of /health/live throughput and >= 3x the uncached read.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_common import (
    DB_NAME,
    DB_PASSWORD,
    DB_USER,
    PACKAGE,
    BenchmarkError,
    Services,
    free_port,
    heading,
    install_signal_handlers,
    load_note,
    machine_description,
    median,
    note,
    prepare_project,
    project_env,
    require_docker,
    run,
    services,
    verdict,
    work_directory,
)

GOAL_CACHED_VS_LIVE = 0.70
GOAL_CACHED_VS_UNCACHED = 3.0
NEW_TICKET = '{"event": "Load test", "price_cents": 1000}'
REPORT_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"""
POST_LUA = f"""
wrk.method = "POST"
wrk.body = '{NEW_TICKET}'
wrk.headers["Content-Type"] = "application/json"
"""
RANDOM_ID_LUA = """
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
request = function()
  return wrk.format(nil, "/tickets/" .. math.random(1, {max_id}))
end
"""


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@dataclass
class Server:
    label: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (spawned children), not multiprocessing's helpers."""
        found = run(["pgrep", "-P", str(self.process.pid)], check=False).stdout.split()
        workers = []
        for pid in found:
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.exists() and b"spawn_main" in cmdline.read_bytes():
                workers.append(int(pid))
        return workers


def http_status(url: str, *, method: str = "GET", body: str | None = None) -> int:
    data = None if body is None else body.encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def stop_server(server: Server) -> None:
    """SIGTERM to the server's own process group (uvicorn and its workers), SIGKILL if it hangs."""
    if server.process.poll() is not None:
        return
    with_group = os.getpgid(server.process.pid) == server.process.pid
    kill = os.killpg if with_group else os.kill
    kill(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)


@contextmanager
def uvicorn(
    label: str, project: Path, env: dict[str, str], workers: int, logs: Path
) -> Iterator[Server]:
    port = free_port()
    log = logs / f"{label}.log"
    args = [str(project / ".venv/bin/uvicorn"), "--factory", f"{PACKAGE}.app:create_app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    args += ["--no-access-log", "--log-level", "warning"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            args,
            cwd=project,
            env=project_env(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, never by name
        )
    server = Server(label, port, process, log)
    try:
        deadline = time.monotonic() + 60
        while http_status(f"{server.base}/health/live") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise BenchmarkError(f"uvicorn ({label}) did not come up:\n{tail}")
            time.sleep(0.2)
        note(f"uvicorn `{label}` on 127.0.0.1:{port}, {workers} workers, pid {process.pid}")
        yield server
    finally:
        stop_server(server)


def async_dependencies(project: Path) -> Path:
    """What-if: the rendered copy's plain `def` dependencies become `async def`.

    FastAPI runs a plain `def` dependency in a worker thread (anyio's threadpool) on every
    request; an `async def` one is called on the event loop. Only this temporary copy changes.
    """
    path = project / "src" / PACKAGE / "dependencies.py"
    source = path.read_text()
    changed = re.sub(r"^def (get_\w+)\(", r"async def \1(", source, flags=re.MULTILINE)
    count = len(re.findall(r"^def get_\w+\(", source, flags=re.MULTILINE))
    path.write_text(changed)
    note(f"what-if: made {count} plain `def` dependencies `async def` in {path.name}")
    return project


# ---------------------------------------------------------------------------------------------
# Database and cache
# ---------------------------------------------------------------------------------------------


def psql(running: Services, sql: str) -> str:
    args = ["docker", "exec", "-e", f"PGPASSWORD={DB_PASSWORD}", running.postgres.name, "psql"]
    args += ["-h", "127.0.0.1", "-U", DB_USER, "-d", DB_NAME, "-v", "ON_ERROR_STOP=1", "-Atc", sql]
    return run(args).stdout.strip()


def redis_cli(running: Services, *command: str) -> str:
    assert running.redis is not None
    return run(["docker", "exec", running.redis.name, "redis-cli", *command]).stdout.strip()


def migrate_and_seed(project: Path, running: Services, tickets: int) -> None:
    env = project_env({"DATABASE_URL": running.database_url})
    run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], cwd=project, env=env)
    psql(
        running,
        "INSERT INTO tickets (event, price_cents) "
        f"SELECT 'Seeded #' || n, 1000 + n % 5000 FROM generate_series(1, {tickets}) AS n; "
        "ANALYZE tickets;",
    )
    note(f"migrated (alembic upgrade head) and seeded {tickets} tickets")


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    threads: int
    connections: int
    duration: int
    warmup: int
    scripts: Path


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    requests: int


def wrk(load: Load, url: str, script: str, seconds: int) -> dict[str, int]:
    path = load.scripts / f"wrk-{abs(hash(script))}.lua"
    path.write_text(script + REPORT_LUA)
    args = ["wrk", "-t", str(load.threads), "-c", str(load.connections), "-d", f"{seconds}s"]
    args += ["--timeout", "5s", "-s", str(path), url]
    result = run(args, timeout=seconds + 60)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            report: dict[str, int] = json.loads(line.removeprefix("BENCH "))
            return report
    raise BenchmarkError(f"wrk printed no report:\n{result.stdout}\n{result.stderr}")


def phase(load: Load, label: str, url: str, script: str = "") -> Result:
    if not url.startswith("http://127.0.0.1:"):
        raise BenchmarkError(f"refusing to load anything but loopback: {url}")
    if load.warmup:
        wrk(load, url, script, load.warmup)
    report = wrk(load, url, script, load.duration)
    errors = sum(report[key] for key in ("connect", "read", "write", "status", "timeout"))
    result = Result(
        label=label,
        rps=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p90_ms=report["p90_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=errors,
        requests=report["requests"],
    )
    flag = f"  ERRORS: {errors} (non-2xx/3xx or socket)" if errors else ""
    print(
        f"   {label:<44} {result.rps:>9.0f} {result.p50_ms:>8.2f} {result.p90_ms:>8.2f} "
        f"{result.p99_ms:>8.2f} {result.requests:>8}{flag}",
        flush=True,
    )
    return result


def table_header() -> None:
    print(
        f"   {'phase':<44} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'requests':>8}"
    )


def warning_lines(server: Server) -> int:
    text = server.log.read_text(errors="replace")
    return sum("cache read of" in line for line in text.splitlines())


def run_phases(
    load: Load, running: Services, servers: dict[str, Server], tickets: int, rounds: int
) -> dict[str, list[Result]]:
    for server in servers.values():
        if http_status(f"{server.base}/tickets/1") != 200:
            raise BenchmarkError(f"GET /tickets/1 on `{server.label}` does not answer 200")
    cached, failopen = servers["cached"], servers["failopen"]
    phases = [
        ("live", "GET /health/live", f"{cached.base}/health/live"),
        ("cached", "GET /tickets/1, cache hit", f"{cached.base}/tickets/1"),
        ("uncached", "GET /tickets/1, use_cache=false variant", "uncached"),
        ("failopen", "GET /tickets/1, Redis refused (fail-open)", "failopen"),
        ("cached_async", "what-if async deps: cache hit", "cached_async"),
        ("uncached_async", "what-if async deps: use_cache=false", "uncached_async"),
    ]
    results: dict[str, list[Result]] = {}
    random_ids = RANDOM_ID_LUA.replace("{max_id}", str(tickets))
    for number in range(1, rounds + 1):
        heading(
            f"load, round {number} of {rounds}: wrk -t{load.threads} -c{load.connections}, "
            f"{load.warmup} s warm-up + {load.duration} s measured per phase"
        )
        load_note()
        table_header()
        for key, label, target in phases:
            if target in servers:
                target = f"{servers[target].base}/tickets/1"
            elif not target.startswith("http"):
                continue  # a what-if server that was not asked for
            before = warning_lines(failopen)
            results.setdefault(key, []).append(phase(load, label, target))
            if key == "failopen":
                logged = warning_lines(failopen) - before
                note(f"({logged} `cache read ... failed` warnings logged: every read missed Redis)")
        redis_cli(running, "FLUSHDB")
        label = f"GET /tickets/<random of {tickets}>, miss path"
        results.setdefault("miss", []).append(phase(load, label, cached.base, random_ids))
        keys = redis_cli(running, "DBSIZE")
        note(f"(Redis holds {keys} keys afterwards: about one per distinct ticket read)")
        results.setdefault("write", []).append(
            phase(load, "POST /tickets (201)", f"{cached.base}/tickets", POST_LUA)
        )
    return results


# ---------------------------------------------------------------------------------------------
# Profile (py-spy from PyPI, installed into the rendered project's venv only)
# ---------------------------------------------------------------------------------------------

# Frames to look for on the event loop's thread: (what it means, frame name).
MARKERS = [
    ("sync dependency run in the threadpool", "run_in_threadpool"),
    ("FastAPI dependency solving (all)", "solve_dependencies"),
    ("Redis command (send + await reply)", "Redis.execute_command"),
    ("socket writes to Redis", "AbstractConnection._send_packed_command"),
    ("AsyncSession created per request", "async_sessionmaker.__call__"),
    ("AsyncSession closed per request", "AsyncSession.close"),
    ("Postgres read (session.get)", "AsyncSession.get"),
    ("pydantic validate (model_validate*)", "model_validate"),
    ("HTTP response write", "RequestResponseCycle.send"),
    ("the endpoint function", "run_endpoint_function"),
]


def frame_name(frame: str) -> str:
    name, _, location = frame.partition(" (")
    short = "/".join(location.rsplit("/", 2)[-2:]).split(":")[0]
    return f"{name} ({short}" + ("" if short.endswith(")") else ")")


def analyze_profile(raw: Path) -> None:
    busy = waiting = 0
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [frame for frame in stack.split(";") if frame.strip()]
        if frames and "_bootstrap" in frames[0]:
            continue  # a threadpool thread: only the event loop's thread counts
        count = int(count_text)
        if not frames or frames[-1].startswith("Runner.run "):
            waiting += count  # in the event loop's poll (native code): waiting for I/O
            continue
        busy += count
        for label, marker in MARKERS:
            if any(frame.startswith(marker + " ") for frame in frames):
                inclusive[label] = inclusive.get(label, 0) + count
        name = frame_name(frames[-1])
        leaf[name] = leaf.get(name, 0) + count
    if not busy:
        note("no busy samples of the event loop's thread")
        return
    share = 100 * waiting / (busy + waiting)
    note(f"event loop thread: {busy} busy samples, {share:.0f}% of its samples waiting in poll")
    note("share of the busy samples (inclusive):")
    for label, _ in MARKERS:
        note(f"  {100 * inclusive.get(label, 0) / busy:5.1f}%  {label}")
    note("hottest leaf frames (self time, share of the busy samples):")
    for name, count in sorted(leaf.items(), key=lambda item: -item[1])[:8]:
        note(f"  {100 * count / busy:5.1f}%  {name}")


def profile(project: Path, server: Server, load: Load, path: str, label: str) -> None:
    """Sample one uvicorn worker with py-spy while wrk loads `path`."""
    heading(f"profile: {label} (py-spy on one worker of `{server.label}`)")
    spy = project / ".venv/bin/py-spy"
    if not spy.exists():
        python = str(project / ".venv/bin/python")
        run(["uv", "pip", "install", "--python", python, "py-spy"], cwd=project, env=project_env())
    pids = server.worker_pids() or [server.process.pid]
    raw = load.scripts / f"profile-{server.label}-{path.strip('/').replace('/', '-')}.txt"
    seconds = load.duration
    path_url = f"{server.base}{path}"
    args = ["wrk", "-t", str(load.threads), "-c", str(load.connections), "-d", f"{seconds + 2}s"]
    with subprocess.Popen([*args, path_url], stdout=subprocess.DEVNULL) as driver:
        try:
            time.sleep(1)
            record = [str(spy), "record", "--pid", str(pids[0]), "--duration", str(seconds)]
            record += ["--rate", "250", "--format", "raw", "--nonblocking", "--output", str(raw)]
            run(record, timeout=seconds + 60)
        finally:
            driver.wait(timeout=seconds + 30)
    analyze_profile(raw)


def summarize(results: dict[str, list[Result]]) -> None:
    heading("summary (median over rounds)")
    rps = {key: median([r.rps for r in values]) for key, values in results.items()}
    p50 = {key: median([r.p50_ms for r in values]) for key, values in results.items()}
    p99 = {key: median([r.p99_ms for r in values]) for key, values in results.items()}
    names = {
        "live": "/health/live",
        "cached": "GET /tickets/1 cached",
        "uncached": "GET /tickets/1 uncached (use_cache=false)",
        "failopen": "GET /tickets/1 Redis refused (fail-open)",
        "miss": "GET /tickets/<random> cache-miss path",
        "write": "POST /tickets",
        "cached_async": "what-if async deps: GET /tickets/1 cached",
        "uncached_async": "what-if async deps: use_cache=false",
    }
    print(f"   {'endpoint':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for key, name in names.items():
        if key not in rps:
            continue
        print(f"   {name:<44} {rps[key]:>9.0f} {p50[key]:>8.2f} {p99[key]:>8.2f}")
    vs_live = rps["cached"] / rps["live"]
    vs_uncached = rps["cached"] / rps["uncached"]
    note(
        f"cached / live      = {vs_live:.2f} (goal >= {GOAL_CACHED_VS_LIVE:.2f}): "
        f"{verdict(vs_live, GOAL_CACHED_VS_LIVE, at_most=False)}"
    )
    note(
        f"cached / uncached  = {vs_uncached:.2f}x (goal >= {GOAL_CACHED_VS_UNCACHED:g}x): "
        f"{verdict(vs_uncached, GOAL_CACHED_VS_UNCACHED, at_most=False)}"
    )
    note(f"cached / fail-open = {rps['cached'] / rps['failopen']:.2f}x (Redis refused, info)")
    if "cached_async" in rps:
        what_if_live = rps["cached_async"] / rps["live"]
        what_if_uncached = rps["cached_async"] / rps["uncached_async"]
        note(
            f"what-if async deps: cached / live = {what_if_live:.2f} "
            f"({verdict(what_if_live, GOAL_CACHED_VS_LIVE, at_most=False)}), "
            f"cached / uncached = {what_if_uncached:.2f}x "
            f"({verdict(what_if_uncached, GOAL_CACHED_VS_UNCACHED, at_most=False)})"
        )
    note(f"cached / miss path = {rps['cached'] / rps['miss']:.2f}x (GET miss + SELECT + SET, info)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per phase")
    parser.add_argument("--warmup", type=int, default=2, help="untimed seconds before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="repeat every phase this often")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--tickets", type=int, default=200_000, help="tickets seeded")
    parser.add_argument("--keep", action="store_true", help="keep the rendered projects and logs")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also serve copies whose sync dependencies are made `async def` (proposed change)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, sample the cached read and /health/live with py-spy (from PyPI)",
    )
    args = parser.parse_args()
    install_signal_handlers()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get update && apt-get install -y wrk` (Debian)")
    require_docker()
    heading("machine")
    for line in machine_description():
        note(line)
    note(f"wrk: {run(['wrk', '--version'], check=False).stdout.splitlines()[0]}")
    try:
        with ExitStack() as stack:
            workdir = stack.enter_context(work_directory(args.keep, "bench-load-"))
            project = prepare_project(workdir)
            plain = prepare_project(workdir, "nocache", {"use_cache": False})
            what_if = None
            if args.what_if:
                what_if = (
                    async_dependencies(prepare_project(workdir, "default-async")),
                    async_dependencies(
                        prepare_project(workdir, "nocache-async", {"use_cache": False})
                    ),
                )
            heading("services")
            running = stack.enter_context(services("bench-load", with_redis=True))
            migrate_and_seed(project, running, args.tickets)
            database = {"DATABASE_URL": running.database_url, "LOG_LEVEL": "WARNING"}
            refused = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
            with_redis = {**database, "REDIS_URL": running.redis_url}
            start = [
                ("cached", project, with_redis),
                ("uncached", plain, database),
                ("failopen", project, {**database, "REDIS_URL": refused}),
            ]
            if what_if is not None:
                start += [("cached_async", what_if[0], with_redis)]
                start += [("uncached_async", what_if[1], database)]
            servers = {
                label: stack.enter_context(uvicorn(label, path, env, args.workers, workdir))
                for label, path, env in start
            }
            load = Load(args.threads, args.connections, args.duration, args.warmup, workdir)
            results = run_phases(load, running, servers, args.tickets, args.rounds)
            summarize(results)
            if args.profile:
                cached, uncached = servers["cached"], servers["uncached"]
                profile(project, cached, load, "/health/live", "GET /health/live")
                profile(project, cached, load, "/tickets/1", "GET /tickets/1, cache hit")
                profile(plain, uncached, load, "/tickets/1", "GET /tickets/1, use_cache=false")
            heading("stopping servers and containers")
    except BenchmarkError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
