"""HTTP throughput and latency of the generated service under uvicorn, driven by wrk on loopback.

Run from the repo root, with Docker up and wrk installed (see BENCHMARKS.md):

    eval "$(../shared/ci/container-engine.sh)"
    uv run python benchmarks/service_load.py [--profile] [--candidate DIR]

Renders the default variant, and the use_cache=false variant as the true uncached baseline;
starts Postgres and Redis containers (bench-load-<run id>-*), migrates and seeds the database,
then runs uvicorn servers on 127.0.0.1 (`--factory <pkg>.app:create_app`, no access log):

- cached:    the default variant, Redis up;
- uncached:  the use_cache=false variant: GET /tickets/{id} always reads Postgres;
- fail-open: the default variant with REDIS_URL on a port where nothing listens: Redis is
             refused, the circuit breaker skips it between probes, and every read goes to
             Postgres.

1. In process (benchmarks/probes/probe_asgi.py): CPU and wall time per request of the app called
   as an ASGI application, one request at a time: the app's own cost, little moved by other load.
2. Under load: each phase is `wrk` for a fixed time after a short untimed warm-up, rounds
   interleaved; besides req/s and latency, the CPU the server processes (and, apart, Postgres,
   Redis and docker-proxy) spent per request, read from /proc.
3. --profile: py-spy (installed from PyPI into the rendered venv only) samples one worker.
4. --candidate DIR: another checkout of this template, e.g. with a proposed change applied;
   its default and use_cache=false variants are measured side by side with the current ones.

- floor:     the default variant plus one route, GET /bench-floor: what /health/live costs plus
             one raw Redis GET of the cached ticket (written into the scratch project only).

Everything started here is stopped here. Goals: cached read >= 50% of /health/live throughput,
within 1.5x of the floor's, and >= 3x the uncached read.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
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
    run_probe,
    services,
    verdict,
    work_directory,
)

GOAL_CACHED_VS_LIVE = 0.5
GOAL_CACHED_VS_UNCACHED = 3.0
GOAL_FLOOR_OVER_CACHED = 1.5  # the floor's throughput at most 1.5x the cached read's

# The floor of a cached read: the service's own app (same middleware) with one more route that
# answers /health/live's way plus one raw Redis GET of the cached ticket.
FLOOR_APP = """
from fastapi import Request, Response

from {package}.app import create_app as create_service


def create_app():
    app = create_service()

    @app.get("/bench-floor")
    async def floor(request: Request) -> Response:
        cache = request.app.state.resources.cache
        payload = await cache.redis.get(cache.key("ticket", 1))
        return Response(payload, media_type="application/json")

    return app
"""
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
    pid = server.process.pid  # also the id of its process group (start_new_session)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the whole group is gone already
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(pid, signal.SIGKILL)
        server.process.wait(timeout=5)


@contextmanager
def uvicorn(
    label: str,
    project: Path,
    env: dict[str, str],
    workers: int,
    logs: Path,
    app: str = f"{PACKAGE}.app:create_app",
) -> Iterator[Server]:
    port = free_port()
    log = logs / f"{label}.log"
    args = [str(project / ".venv/bin/uvicorn"), "--factory", app]
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


# ---------------------------------------------------------------------------------------------
# CPU accounting (from /proc: robust to other work on the machine, unlike throughput)
# ---------------------------------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of its reaped children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # Fields 4, 14-17 of proc(5): ppid, utime, stime, cutime, cstime.
        used = sum(int(value) for value in fields[11:15]) / ticks
        table[int(entry.name)] = (int(fields[1]), used)
    return table


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by these processes and all their descendants."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, pending, seen = 0.0, list(roots), set()
    while pending:
        pid = pending.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        pending.extend(children.get(pid, []))
    return total


def service_pids(running: Services) -> list[int]:
    """The containers' processes (as seen from here) and the docker-proxy processes for them."""
    containers = [running.postgres] + ([running.redis] if running.redis else [])
    pids = []
    for container in containers:
        found = run(["docker", "inspect", "-f", "{{.State.Pid}}", container.name]).stdout
        pids.append(int(found.strip()))
    ports = {str(container.port) for container in containers}
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in args]
        proxy = bool(words) and words[0].endswith("docker-proxy") and "-host-port" in words
        if proxy and words[words.index("-host-port") + 1] in ports:
            pids.append(int(entry.name))
    return pids


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


@dataclass
class Load:
    threads: int
    connections: int
    duration: int
    warmup: int
    scripts: Path
    services: list[int] = field(default_factory=list)  # pids whose CPU counts as the services'


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    requests: int
    server_cpu_ms: float  # CPU of uvicorn and its workers per request
    services_cpu_ms: float  # CPU of Postgres, Redis and their docker-proxy per request


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


def phase(load: Load, server: Server, label: str, url: str, script: str = "") -> Result:
    if not url.startswith("http://127.0.0.1:"):
        raise BenchmarkError(f"refusing to load anything but loopback: {url}")
    if load.warmup:
        wrk(load, url, script, load.warmup)
    server_before, services_before = tree_cpu([server.process.pid]), tree_cpu(load.services)
    report = wrk(load, url, script, load.duration)
    server_cpu = tree_cpu([server.process.pid]) - server_before
    services_cpu = tree_cpu(load.services) - services_before
    requests = max(report["requests"], 1)
    errors = sum(report[key] for key in ("connect", "read", "write", "status", "timeout"))
    result = Result(
        label=label,
        rps=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p90_ms=report["p90_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=errors,
        requests=report["requests"],
        server_cpu_ms=1000 * server_cpu / requests,
        services_cpu_ms=1000 * services_cpu / requests,
    )
    flag = f"  ERRORS: {errors} (non-2xx/3xx or socket)" if errors else ""
    print(
        f"   {label:<44} {result.rps:>7.0f} {result.p50_ms:>7.2f} {result.p90_ms:>7.2f} "
        f"{result.p99_ms:>7.2f} {result.server_cpu_ms:>8.3f} {result.services_cpu_ms:>8.3f}"
        f"{flag}",
        flush=True,
    )
    return result


def table_header() -> None:
    print(
        f"   {'phase':<44} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'app CPU':>8} {'svc CPU':>8}"
    )


def warning_lines(server: Server) -> int:
    text = server.log.read_text(errors="replace")
    return sum("Redis failed" in line for line in text.splitlines())


def run_phases(
    load: Load, running: Services, servers: dict[str, Server], tickets: int, rounds: int
) -> dict[str, list[Result]]:
    for server in servers.values():
        if http_status(f"{server.base}/tickets/1") != 200:
            raise BenchmarkError(f"GET /tickets/1 on `{server.label}` does not answer 200")
    cached, failopen = servers["cached"], servers["failopen"]
    phases = [  # (key, label, server, path)
        ("live", "GET /health/live", "cached", "/health/live"),
        ("floor", "GET /bench-floor: live + 1 Redis GET", "floor", "/bench-floor"),
        ("cached", "GET /tickets/1, cache hit", "cached", "/tickets/1"),
        ("uncached", "GET /tickets/1, use_cache=false variant", "uncached", "/tickets/1"),
        ("failopen", "GET /tickets/1, Redis refused (fail-open)", "failopen", "/tickets/1"),
        (
            "cached_candidate",
            "candidate: GET /tickets/1, cache hit",
            "cached_candidate",
            "/tickets/1",
        ),
        (
            "uncached_candidate",
            "candidate: GET /tickets/1, use_cache=false",
            "uncached_candidate",
            "/tickets/1",
        ),
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
        for key, label, name, path in phases:
            if name not in servers:
                continue  # a candidate's server, and no candidate was given
            server = servers[name]
            before = warning_lines(failopen)
            results.setdefault(key, []).append(phase(load, server, label, server.base + path))
            if key == "failopen":
                logged = warning_lines(failopen) - before
                # The breaker: one warning per cool-down, not one per read.
                note(f"({logged} `Redis failed` warnings logged during the phase)")
        redis_cli(running, "FLUSHDB")
        label = f"GET /tickets/<random of {tickets}>, miss path"
        results.setdefault("miss", []).append(phase(load, cached, label, cached.base, random_ids))
        keys = redis_cli(running, "DBSIZE")
        note(f"(Redis holds {keys} keys afterwards: about one per distinct ticket read)")
        results.setdefault("write", []).append(
            phase(load, cached, "POST /tickets (201)", f"{cached.base}/tickets", POST_LUA)
        )
    return results


# ---------------------------------------------------------------------------------------------
# In process (probes/probe_asgi.py): the app's own cost per request, without HTTP or wrk
# ---------------------------------------------------------------------------------------------


def in_process(targets: list[tuple[str, Path, str, dict[str, str]]], requests: int) -> None:
    """targets: (label, project, path, environment)."""
    heading("in-process cost per request: ASGI calls on the real app, sequential, no HTTP")
    load_note()
    print(f"   {'request':<52} {'CPU ms':>8} {'wall ms':>8}")
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    for label, project, path, env in targets:
        args = ["--package", PACKAGE, "--path", path, "--requests", str(requests)]
        output = run_probe(project, "probe_asgi", args, env=env)
        measured = json.loads(output.strip().splitlines()[-1])[path]
        cpu[label], wall[label] = measured["cpu_ms"], measured["wall_ms"]
        print(f"   {label:<52} {cpu[label]:>8.3f} {wall[label]:>8.3f}", flush=True)
    note("CPU ms = process CPU per request (the app, its drivers, uvloop); wall ms adds waiting")
    note("for Redis / Postgres (one request at a time, so wall = latency without queueing)")
    for prefix in ("", "candidate: "):
        cached, uncached = (
            f"{prefix}GET /tickets/1 cached",
            f"{prefix}GET /tickets/1 use_cache=false",
        )
        if cached not in cpu:
            continue
        live = cpu["GET /health/live"]
        note(
            f"{prefix}live CPU / cached CPU = {live / cpu[cached]:.2f} (goal for throughput >= "
            f"{GOAL_CACHED_VS_LIVE:g})"
        )
        note(
            f"{prefix}uncached / cached: CPU {cpu[uncached] / cpu[cached]:.2f}x, wall "
            f"{wall[uncached] / wall[cached]:.2f}x (goal for throughput >= "
            f"{GOAL_CACHED_VS_UNCACHED:g}x)"
        )


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


def ratio_line(name: str, value: float, goal: float | None, unit: str = "") -> None:
    if goal is None:
        note(f"{name:<44} {value:>6.2f}{unit}")
    else:
        met = verdict(value, goal, at_most=False)
        note(f"{name:<44} {value:>6.2f}{unit}  goal >= {goal:.3g}{unit}: {met}")


def summarize(results: dict[str, list[Result]]) -> None:
    heading("summary (median over rounds)")

    def mid(key: str, attribute: str) -> float:
        return median([getattr(result, attribute) for result in results[key]])

    names = {
        "live": "GET /health/live",
        "floor": "GET /bench-floor (live + 1 Redis GET)",
        "cached": "GET /tickets/1 cached",
        "uncached": "GET /tickets/1 uncached (use_cache=false)",
        "failopen": "GET /tickets/1 Redis refused (fail-open)",
        "miss": "GET /tickets/<random> cache-miss path",
        "write": "POST /tickets",
        "cached_candidate": "candidate: GET /tickets/1 cached",
        "uncached_candidate": "candidate: GET /tickets/1 use_cache=false",
    }
    columns = f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'app CPU':>8} {'svc CPU':>8}"
    print(f"   {'endpoint':<44} {columns}")
    for key, name in names.items():
        if key in results:
            print(
                f"   {name:<44} {mid(key, 'rps'):>7.0f} {mid(key, 'p50_ms'):>7.2f} "
                f"{mid(key, 'p99_ms'):>7.2f} {mid(key, 'server_cpu_ms'):>8.3f} "
                f"{mid(key, 'services_cpu_ms'):>8.3f}"
            )
    note("app CPU = ms of CPU per request in uvicorn and its workers; svc CPU = the same in")
    note("Postgres, Redis and their docker-proxy processes")

    def throughput(key: str, other: str) -> float:
        return mid(key, "rps") / mid(other, "rps")

    def cpu(key: str, other: str) -> float:
        return mid(other, "server_cpu_ms") / mid(key, "server_cpu_ms")

    def total_cpu(key: str, other: str) -> float:
        def spent(name: str) -> float:
            return mid(name, "server_cpu_ms") + mid(name, "services_cpu_ms")

        return spent(other) / spent(key)

    heading("ratios against the goals")
    note("measured throughput:")
    ratio_line("cached / live", throughput("cached", "live"), GOAL_CACHED_VS_LIVE)
    floor_goal = 1 / GOAL_FLOOR_OVER_CACHED
    ratio_line("cached / floor (within 1.5x of it)", throughput("cached", "floor"), floor_goal)
    ratio_line("cached / uncached", throughput("cached", "uncached"), GOAL_CACHED_VS_UNCACHED, "x")
    ratio_line("cached / fail-open (Redis refused)", throughput("cached", "failopen"), None, "x")
    ratio_line("cached / cache-miss path", throughput("cached", "miss"), None, "x")
    note("inverse app CPU per request (the same ratios, little moved by other load):")
    ratio_line("cached / live", cpu("cached", "live"), GOAL_CACHED_VS_LIVE)
    ratio_line("cached / floor (within 1.5x of it)", cpu("cached", "floor"), floor_goal)
    ratio_line("cached / uncached", cpu("cached", "uncached"), GOAL_CACHED_VS_UNCACHED, "x")
    note("inverse app + svc CPU per request (what bounds throughput when the box is CPU-bound):")
    ratio_line("cached / live", total_cpu("cached", "live"), GOAL_CACHED_VS_LIVE)
    total = total_cpu("cached", "uncached")
    ratio_line("cached / uncached", total, GOAL_CACHED_VS_UNCACHED, "x")
    if "cached_candidate" in results:
        note("candidate template (both variants rendered from it): throughput; inverse CPU:")
        ratio_line("cached / live", throughput("cached_candidate", "live"), GOAL_CACHED_VS_LIVE)
        ratio_line("cached / live (CPU)", cpu("cached_candidate", "live"), GOAL_CACHED_VS_LIVE)
        candidate_ratio = throughput("cached_candidate", "uncached_candidate")
        ratio_line("cached / uncached", candidate_ratio, GOAL_CACHED_VS_UNCACHED, "x")
        candidate_cpu = cpu("cached_candidate", "uncached_candidate")
        ratio_line("cached / uncached (CPU)", candidate_cpu, GOAL_CACHED_VS_UNCACHED, "x")
        candidate_total = total_cpu("cached_candidate", "uncached_candidate")
        ratio_line(
            "cached / uncached (app + svc CPU)", candidate_total, GOAL_CACHED_VS_UNCACHED, "x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per phase")
    parser.add_argument("--warmup", type=int, default=2, help="untimed seconds before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="repeat every phase this often")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--tickets", type=int, default=200_000, help="tickets seeded")
    parser.add_argument(
        "--in-process-requests", type=int, default=1000, help="requests per in-process block"
    )
    parser.add_argument("--keep", action="store_true", help="keep the rendered projects and logs")
    parser.add_argument(
        "--candidate",
        type=Path,
        help="another checkout of this template (a proposed change): its default and "
        "use_cache=false variants are served and measured side by side",
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
            candidate = None
            if args.candidate is not None:
                source = args.candidate.resolve()
                candidate = (
                    prepare_project(workdir, "candidate", src=source),
                    prepare_project(workdir, "candidate-nocache", {"use_cache": False}, source),
                )
            heading("services")
            running = stack.enter_context(services(project, "bench-load", with_redis=True))
            migrate_and_seed(project, running, args.tickets)
            database = {"DATABASE_URL": running.database_url, "LOG_LEVEL": "WARNING"}
            refused = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
            with_redis = {**database, "REDIS_URL": running.redis_url}
            start = [
                ("cached", project, with_redis),
                ("uncached", plain, database),
                ("failopen", project, {**database, "REDIS_URL": refused}),
            ]
            if candidate is not None:
                start += [("cached_candidate", candidate[0], with_redis)]
                start += [("uncached_candidate", candidate[1], database)]
            servers = {
                label: stack.enter_context(uvicorn(label, path, env, args.workers, workdir))
                for label, path, env in start
            }
            (project / "bench_floor.py").write_text(FLOOR_APP.format(package=PACKAGE))
            floor = uvicorn(
                "floor", project, with_redis, args.workers, workdir, "bench_floor:create_app"
            )
            servers["floor"] = stack.enter_context(floor)
            targets = [
                ("GET /health/live", project, "/health/live", with_redis),
                ("GET /tickets/1 cached", project, "/tickets/1", with_redis),
                ("GET /tickets/1 use_cache=false", plain, "/tickets/1", database),
            ]
            if candidate is not None:
                targets += [
                    ("candidate: GET /tickets/1 cached", candidate[0], "/tickets/1", with_redis),
                    (
                        "candidate: GET /tickets/1 use_cache=false",
                        candidate[1],
                        "/tickets/1",
                        database,
                    ),
                ]
            in_process(targets, args.in_process_requests)
            load = Load(args.threads, args.connections, args.duration, args.warmup, workdir)
            load.services = service_pids(running)
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
