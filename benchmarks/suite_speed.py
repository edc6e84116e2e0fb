"""The generated suite's wall time, cold and warm, beside a tutorial-shaped baseline.

Run from the repo root, with Docker up (see BENCHMARKS.md):

    eval "$(../shared/ci/container-engine.sh)"
    uv run python benchmarks/suite_speed.py

1. Renders the default variant (our suite) and the no-cache variant (the baseline's app: a
   tutorial has no Redis), installs both and compiles their bytecode, as a developer's second
   run finds it (this machine sets PYTHONDONTWRITEBYTECODE=1; collection is also timed without).
2. Times a Postgres container alone, started as the suite starts it, until it accepts queries.
3. Cold suite: `uv run pytest` of the default project, whose conftest starts the containers;
   then `pytest --quick` cold, for information (the baseline has no fault or fuzz tests either).
4. Baseline, written into a scratch folder: 6 tests of the same endpoints, one session
   container (testcontainers), per test a new engine and drop_all/create_all, httpx
   ASGITransport: the shape of the common testcontainers + asyncpg tutorials.
5. Warm suite: the same suite on servers kept running between runs, as `dev --test-servers`
   keeps them (TEST_DATABASE_URL / TEST_REDIS_URL, the `external` source): every test, then
   `pytest --quick`, which leaves out the fault-injection and fuzz tests (marked `faults`),
   then every test on two xdist workers (`-n 2`), which the generated README offers.

Runs as on a developer's machine: without CI=true, which would fuzz four times as long; a run
that skips anything fails the benchmark instead.

Prints each figure with its goal and ratio, measured side by side in this one run.
"""

import argparse
import json
import re
import sys
import textwrap
import time
from pathlib import Path

from bench_common import (
    PACKAGE,
    BenchmarkError,
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
    template_tests_helpers,
    timed,
    verdict,
    work_directory,
)

GOAL_COLD_OVER_POSTGRES_SECONDS = 7.0
GOAL_WARM_SECONDS = 3.0
PYTEST_SUMMARY = re.compile(r"(?P<passed>\d+) passed.* in (?P<seconds>[\d.]+)s")

BASELINE_CONFTEST = '''
"""The tutorial shape: one container per session; per test a new engine, drop_all/create_all."""

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import create_async_engine
from testcontainers.postgres import PostgresContainer

from {package}.app import create_app
from {package}.models import Base
from {package}.settings import Settings


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    image = os.environ.get("TEST_POSTGRES_IMAGE", "postgres:17-alpine")
    with PostgresContainer(image, driver="asyncpg") as postgres:
        yield postgres.get_connection_url()


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[AsyncClient]:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    app = create_app(Settings(_env_file=None, database_url=database_url))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client
'''

BASELINE_TESTS = """
from httpx import AsyncClient


async def create(client: AsyncClient) -> int:
    response = await client.post("/tickets", json={"event": "Concert", "price_cents": 1000})
    assert response.status_code == 201
    return int(response.json()["id"])


async def test_create(client: AsyncClient) -> None:
    assert await create(client) > 0


async def test_get(client: AsyncClient) -> None:
    ticket_id = await create(client)
    response = await client.get(f"/tickets/{ticket_id}")
    assert response.json()["event"] == "Concert"


async def test_list(client: AsyncClient) -> None:
    await create(client)
    response = await client.get("/tickets")
    assert response.json()["total"] == 1


async def test_missing(client: AsyncClient) -> None:
    assert (await client.get("/tickets/999")).status_code == 404


async def test_buy(client: AsyncClient) -> None:
    ticket_id = await create(client)
    response = await client.post(f"/tickets/{ticket_id}/buy", json={"buyer": "ada"})
    assert response.json()["buyer"] == "ada"


async def test_buy_twice(client: AsyncClient) -> None:
    ticket_id = await create(client)
    await client.post(f"/tickets/{ticket_id}/buy", json={"buyer": "ada"})
    response = await client.post(f"/tickets/{ticket_id}/buy", json={"buyer": "bob"})
    assert response.status_code == 409
"""

# Loaded into both suites with `-p`: pytest prints durations to 10 ms only.
TIMING_PLUGIN = """
import json
import os

_overhead = {}


def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        _overhead[report.nodeid] = _overhead.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    with open(os.environ["SUITE_TIMING_FILE"], "w") as file:
        json.dump(_overhead, file)
"""

BASELINE_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = ignore::DeprecationWarning
"""


def write_baseline(folder: Path) -> Path:
    folder.mkdir()
    (folder / "pytest.ini").write_text(textwrap.dedent(BASELINE_INI))
    (folder / "conftest.py").write_text(BASELINE_CONFTEST.format(package=PACKAGE))
    (folder / "test_tickets.py").write_text(BASELINE_TESTS)
    return folder


def compile_bytecode(project: Path) -> None:
    """What a developer's machine has after the first run: bytecode for the venv and the code."""
    python = str(project / ".venv/bin/python")
    run([python, "-m", "compileall", "-q", "-j", "0", ".venv", "src", "tests"], cwd=project)


def postgres_alone(project: Path, runs: int) -> float:
    """Median seconds to start a Postgres container until it accepts queries, the way the suite
    starts it (the rendered project's devtools.servers), nothing else."""
    helpers = template_tests_helpers()
    servers = helpers.devtools_servers(project)
    [postgres] = helpers.server_kinds(False)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        [server] = servers.start_together([postgres.starter("docker", servers.Options())])
        seconds.append(time.perf_counter() - started)
        servers.close_all([server])
    return median(seconds)


# One pytest run: wall seconds, tests passed, median per-test setup+teardown ms.
Run = tuple[float, int, float]


def pytest_run(project: Path, args: list[str], env: dict[str, str], label: str) -> Run:
    """(wall seconds, tests passed, median per-test setup+teardown ms) of one pytest run."""
    timing = project / "suite-timing.json"
    plugins = project.parent / "plugins"  # suite_timing.py, written by main()
    plugin_env = env | {"PYTHONPATH": str(plugins), "SUITE_TIMING_FILE": str(timing)}
    command = ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"]
    seconds, result = timed([*command, "-p", "suite_timing", *args], cwd=project, env=plugin_env)
    output = result.stdout + result.stderr
    summary = PYTEST_SUMMARY.search(output)
    if result.returncode != 0 or summary is None or " skipped" in output.splitlines()[-1]:
        tail = "\n".join(output.splitlines()[-25:])
        raise BenchmarkError(f"`{label}` did not pass cleanly:\n{tail}")
    overhead: dict[str, float] = json.loads(timing.read_text())
    per_test = median(list(overhead.values())) * 1000 if overhead else float("nan")
    note(f"{label}: {seconds:.2f} s wall, {summary['passed']} passed, {per_test:.2f} ms/test")
    return seconds, int(summary["passed"]), per_test


def pytest_runs(
    count: int, project: Path, args: list[str], env: dict[str, str], label: str
) -> list[Run]:
    return [pytest_run(project, args, env, label) for _ in range(count)]


def wall(runs: list[Run]) -> float:
    return median([seconds for seconds, _, _ in runs])


def collection(project: Path, env: dict[str, str]) -> None:
    heading("start-up, imports and collection (no services)")
    for label, extra in (
        ("with bytecode", {}),
        ("without bytecode", {"PYTHONDONTWRITEBYTECODE": "1"}),
    ):
        # Without bytecode: a temporary cache prefix holds none, and nothing is written.
        if extra:
            extra = extra | {"PYTHONPYCACHEPREFIX": str(project / ".no-bytecode")}
        walls = [
            timed(
                ["uv", "run", "--no-sync", "pytest", "-q", "--collect-only"],
                cwd=project,
                env=env | extra,
            )[0]
            for _ in range(3)
        ]
        note(f"`pytest --collect-only` {label}: median {median(walls):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each suite")
    parser.add_argument("--keep", action="store_true", help="keep the rendered projects")
    args = parser.parse_args()
    install_signal_handlers()
    require_docker()
    heading("machine")
    for line in machine_description():
        note(line)
    load_note()
    try:
        with work_directory(args.keep, "bench-suite-") as workdir:
            (workdir / "plugins").mkdir()
            (workdir / "plugins/suite_timing.py").write_text(TIMING_PLUGIN)
            ours = prepare_project(workdir)
            baseline_project = prepare_project(workdir, "no-cache", {"use_cache": False})
            for project in (ours, baseline_project):
                compile_bytecode(project)
            baseline = write_baseline(workdir / "baseline")
            # As on a developer's machine, bytecode is written: pytest keeps its rewritten test
            # modules in __pycache__ too (this machine's PYTHONDONTWRITEBYTECODE=1 would not).
            env = project_env()
            for variable in ("PYTHONDONTWRITEBYTECODE", "CI"):
                env.pop(variable, None)
            collection(ours, env)

            heading("cold: each run starts its own containers")
            postgres = postgres_alone(ours, args.runs)
            note(f"Postgres container alone, started as the suite does: {postgres:.2f} s")
            cold = pytest_runs(args.runs, ours, [], env, "our suite")
            cold_quick = pytest_runs(args.runs, ours, ["--quick"], env, "our suite, --quick")
            base_args = [
                "-c",
                str(baseline / "pytest.ini"),
                "--rootdir",
                str(baseline),
                str(baseline),
            ]
            tutorial = pytest_runs(args.runs, baseline_project, base_args, env, "baseline")

            heading("warm: servers kept running between runs (`dev --test-servers`)")
            with services(ours, "bench-suite", with_redis=True) as running:
                warm_env = env | {
                    "TEST_SERVICES": "external",
                    "TEST_DATABASE_URL": running.database_url,
                    "TEST_REDIS_URL": running.redis_url,
                }
                # Every test runs here too: fault tests put their gates in front of any server.
                warm = pytest_runs(args.runs, ours, [], warm_env, "warm suite")
                quick = pytest_runs(args.runs, ours, ["--quick"], warm_env, "warm suite, --quick")
                parallel = pytest_runs(
                    args.runs, ours, ["-n", "2"], warm_env, "warm suite, -n 2 (xdist)"
                )

            summarize(postgres, cold, cold_quick, tutorial, warm, quick, parallel)
    except BenchmarkError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


def summarize(
    postgres: float,
    cold: list[Run],
    cold_quick: list[Run],
    tutorial: list[Run],
    warm: list[Run],
    quick: list[Run],
    parallel: list[Run],
) -> None:
    heading("figures (medians over the runs), goals and ratios")
    note(f"{'suite':<26} {'wall s':>7} {'tests':>6} {'setup+teardown ms/test':>23}")
    for label, runs in (
        ("our suite, cold", cold),
        ("  the same, --quick", cold_quick),
        ("tutorial baseline, cold", tutorial),
        ("our suite, warm servers", warm),
        ("  the same, --quick", quick),
        ("  the same, -n 2", parallel),
    ):
        per_test = median([per for _, _, per in runs])
        note(f"{label:<26} {wall(runs):>7.2f} {runs[0][1]:>6} {per_test:>23.2f}")
    cold_wall, tutorial_wall = wall(cold), wall(tutorial)
    over = cold_wall - postgres
    note(
        f"cold - Postgres alone: {over:.2f} s (goal <= {GOAL_COLD_OVER_POSTGRES_SECONDS:g} s): "
        f"{verdict(over, GOAL_COLD_OVER_POSTGRES_SECONDS, at_most=True)}"
    )
    note(
        f"cold / tutorial: {cold_wall / tutorial_wall:.2f}x (goal <= 1.00x): "
        f"{verdict(cold_wall, tutorial_wall, at_most=True)}"
    )
    note(f"cold --quick / tutorial: {wall(cold_quick) / tutorial_wall:.2f}x (information)")
    for label, runs in (("every test", warm), ("--quick", quick)):
        note(
            f"warm rerun, {label}: {wall(runs):.2f} s (goal <= {GOAL_WARM_SECONDS:g} s): "
            f"{verdict(wall(runs), GOAL_WARM_SECONDS, at_most=True)}"
        )
    note(f"warm, -n 2 / serial: {wall(parallel) / wall(warm):.2f}x (information)")


if __name__ == "__main__":
    sys.exit(main())
