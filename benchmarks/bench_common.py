"""Shared plumbing for the benchmark drivers: rendering, the rendered project's venv, containers.

Stdlib and copier only: the drivers run in the template repo's own venv (`uv run python ...`).
Anything that needs the service's dependencies runs inside the rendered project's venv.
"""

import importlib
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
PROBES = BENCHMARKS / "probes"
ENGINE_SCRIPT = "../shared/ci/container-engine.sh"
PROJECT_NAME = "Ticket Office"
PACKAGE = "ticket_office"
DB_USER = "app"  # the user devtools.servers creates
DB_PASSWORD = "bench-secret"
DB_NAME = "bench"


class BenchmarkError(Exception):
    """A precondition or a step failed; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Process hygiene
# ---------------------------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what this run started."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)


def run_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:6]}"


def project_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in the rendered project: not this repo's venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env.update(extra or {})
    return env


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise BenchmarkError(f"`{' '.join(args)}` exited {result.returncode}:\n{tail}")
    return result


def timed(
    args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = run(args, cwd=cwd, env=env, check=False)
    return time.perf_counter() - started, result


# ---------------------------------------------------------------------------------------------
# Statistics and printing
# ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 = the value 95% of samples are at or below)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(value: float, goal: float, *, at_most: bool) -> str:
    met = value <= goal if at_most else value >= goal
    return "MET" if met else "MISSED"


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def note(text: str) -> None:
    print(f"   {text}", flush=True)


def load_note() -> None:
    """The machine's load right now: benchmarks beside other work measure that work too."""
    one, five, _ = os.getloadavg()
    warning = "" if one < 0.5 else "  WARNING: the machine is busy, numbers will be pessimistic"
    note(f"load average: {one:.2f} (1 min), {five:.2f} (5 min){warning}")


def machine_description() -> list[str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return [
        f"cores (nproc): {os.cpu_count()}",
        f"memory: {memory}",
        f"CPU: {cpu}",
        f"driver Python: {platform.python_version()}",
        f"Postgres image: {os.environ.get('TEST_POSTGRES_IMAGE', '?')}",
        f"Redis image: {os.environ.get('TEST_REDIS_IMAGE', '?')}",
    ]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


@contextmanager
def output_silenced() -> Iterator[None]:
    """Silence file descriptors 1 and 2, so child processes (copier's tasks) print nothing.

    A task that fails aborts the copy with an exception, raised after the output is restored.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def render(
    dst: Path,
    answers: Mapping[str, Any] | None = None,
    *,
    skip_tasks: bool = False,
    src: Path = REPO,
) -> float:
    """Render the template from the working tree (HEAD plus uncommitted changes); seconds taken.

    Copy-time tasks (writing .env, `uv lock`) run unless skip_tasks. `src` may name another
    checkout of this template (a candidate change); one that is not a git repo renders as is.
    """
    try:
        from copier import run_copy
    except ImportError as error:
        raise BenchmarkError(
            "copier is missing: run the drivers from the template repo's venv, "
            "`cd /work/main && uv sync && uv run python benchmarks/<script>.py`"
        ) from error
    data = {"project_name": PROJECT_NAME, **(answers or {})}
    started = time.perf_counter()
    with warnings.catch_warnings(), output_silenced():
        # Copier warns that uncommitted template changes are included: intended here.
        warnings.simplefilter("ignore")
        run_copy(
            src_path=str(src),
            dst_path=dst,
            data=data,
            defaults=True,
            unsafe=True,
            vcs_ref="HEAD" if (src / ".git").exists() else None,
            quiet=True,
            skip_tasks=skip_tasks,
        )
    return time.perf_counter() - started


def prepare_project(
    workdir: Path,
    name: str = "default",
    answers: Mapping[str, Any] | None = None,
    src: Path = REPO,
) -> Path:
    """Render a variant into workdir/<name> and `uv sync` it; the project's path."""
    project = workdir / name
    heading(f"render the {name} variant and install it" + ("" if src == REPO else f" ({src})"))
    seconds = render(project, answers, src=src)
    note(f"rendered {project} ({dict(answers or {}) or 'defaults'}) in {seconds:.2f} s")
    if not (project / "README.md").exists():
        # pyproject names README.md as the readme; without it the project cannot be built.
        (project / "README.md").write_text(f"# {PROJECT_NAME}\n")
        note("WARNING: the rendered project has no README.md; wrote a stub so `uv sync` builds")
    seconds, result = timed(["uv", "sync"], cwd=project, env=project_env())
    if result.returncode != 0:
        raise BenchmarkError(f"`uv sync` failed in {project}:\n{result.stderr[-3000:]}")
    note(f"`uv sync` in {seconds:.2f} s")
    version = run([str(project / ".venv/bin/python"), "--version"]).stdout.strip()
    note(f"project venv: {version}")
    return project


@contextmanager
def work_directory(keep: bool, prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"\n(kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def run_probe(
    project: Path,
    probe: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> str:
    """Run benchmarks/probes/<probe>.py with the rendered project's venv; its stdout."""
    result = run(
        ["uv", "run", "--no-sync", "python", str(PROBES / f"{probe}.py"), *args],
        cwd=project,
        env=project_env(env),
        timeout=timeout,
    )
    return result.stdout


# ---------------------------------------------------------------------------------------------
# Containers (docker CLI, named per run so a concurrent run's containers are never touched)
# ---------------------------------------------------------------------------------------------


def require_docker() -> tuple[str, str]:
    """The Postgres and Redis images to use; exits with instructions when Docker is not there."""
    postgres = os.environ.get("TEST_POSTGRES_IMAGE")
    redis = os.environ.get("TEST_REDIS_IMAGE")
    problems = []
    if shutil.which("docker") is None:
        problems.append("the docker client is not installed")
    elif subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        problems.append("the Docker engine does not answer")
    if not postgres or not redis:
        problems.append("TEST_POSTGRES_IMAGE / TEST_REDIS_IMAGE are not set")
    if problems:
        sys.exit(
            "No usable Docker: "
            + "; ".join(problems)
            + ".\nIn the same shell, from the repo root, first run:\n"
            + f'    eval "$({ENGINE_SCRIPT})"\n'
            + "then run this script again."
        )
    assert postgres is not None
    assert redis is not None
    for image in (postgres, redis):
        if run(["docker", "image", "inspect", image], check=False).returncode != 0:
            sys.exit(
                f"Image {image} is not present locally (no registry here): run the line\n"
                f'    eval "$({ENGINE_SCRIPT})"'
            )
    return postgres, redis


@dataclass(frozen=True)
class Container:
    name: str  # its id: the docker CLI takes either
    port: int  # on 127.0.0.1


def template_tests_helpers() -> Any:
    """The template tests' helpers (tests/helpers.py): how to reach a project's devtools.servers."""
    sys.path.insert(0, str(REPO))
    return importlib.import_module("tests.helpers")


@dataclass(frozen=True)
class Services:
    postgres: Container
    redis: Container | None

    @property
    def database_url(self) -> str:
        return self.database_url_for(DB_NAME)

    def database_url_for(self, database: str) -> str:
        port = self.postgres.port
        return f"postgresql+asyncpg://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{port}/{database}"

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return f"redis://127.0.0.1:{self.redis.port}/0"


@contextmanager
def services(project: Path, prefix: str, *, with_redis: bool) -> Iterator[Services]:
    """Postgres (and Redis) containers labelled `purpose=<prefix>`, removed on the way out."""
    require_docker()
    helpers = template_tests_helpers()
    servers = helpers.devtools_servers(project)
    kinds = helpers.server_kinds(with_redis)
    options = servers.Options(database=DB_NAME, labels={"purpose": prefix}, password=DB_PASSWORD)
    started = time.perf_counter()
    running = servers.start_together([kind.starter("docker", options) for kind in kinds])
    try:
        postgres, *redis = [
            Container(server.handle, urlsplit(server.url).port or 0) for server in running
        ]
        note(
            "containers " + ", ".join(server.handle[:12] for server in running) + " up "
            f"(ready {time.perf_counter() - started:.1f} s after the start)"
        )
        yield Services(postgres, redis[0] if redis else None)
    finally:
        note("removing the containers")
        for problem in servers.close_all(running):
            note(problem)


def free_port() -> int:
    """devtools' free_port (once services() has imported the rendered project's devtools)."""
    port: int = importlib.import_module("devtools.servers.processes").free_port()
    return port


def template_variants() -> list[Any]:
    """The template's test matrix (tests/variants.py): the benchmarks keep no list of their own."""
    sys.path.insert(0, str(REPO))
    variants: list[Any] = importlib.import_module("tests.variants").VARIANTS
    return variants
