"""Render time of each answer set of the template matrix, side by side in one run.

Run from the repo root (the template's own venv has copier and its Jinja extension loader):

    uv sync
    uv run python benchmarks/matrix.py

Each variant is rendered with copier's Python API from the working tree (`vcs_ref="HEAD"`:
copier clones the repo to a temporary directory and applies uncommitted changes on top), twice:
with skip_tasks=True (the template alone) and as a user gets it, copy-time tasks included
(writing .env, `uv lock`, which needs the package index). Variants are interleaved round by round
after one untimed warm-up render, so drift hits all of them alike. Needs no Docker.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from bench_common import (
    BenchmarkError,
    heading,
    install_signal_handlers,
    load_note,
    machine_description,
    median,
    note,
    render,
    template_variants,
)


def rendered_files(project: Path) -> tuple[int, int]:
    """Files and lines of text the user gets."""
    files = [path for path in project.rglob("*") if path.is_file()]
    lines = 0
    for path in files:
        try:
            lines += len(path.read_text().splitlines())
        except (UnicodeDecodeError, OSError):
            continue
    return len(files), lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed renders per variant")
    args = parser.parse_args()
    install_signal_handlers()
    heading("machine")
    for line in machine_description()[:4]:
        note(line)
    load_note()
    # The template tests' matrix (its answers include the base answer set).
    variants = [(variant.id, variant.answers) for variant in template_variants()]
    bare: dict[str, list[float]] = {name: [] for name, _ in variants}
    full: dict[str, list[float]] = {name: [] for name, _ in variants}
    sizes: dict[str, tuple[int, int]] = {}
    unlocked: set[str] = set()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp:
            root = Path(tmp)
            heading("warm-up render (imports, untimed)")
            note(f"{render(root / 'warmup'):.2f} s")
            for number in range(args.rounds):
                for index, (name, answers) in enumerate(variants):
                    destination = root / f"r{number}-v{index}-bare"
                    bare[name].append(render(destination, answers, skip_tasks=True))
                    destination = root / f"r{number}-v{index}"
                    full[name].append(render(destination, answers))
                    if not (destination / "uv.lock").exists():
                        unlocked.add(name)
                    if name not in sizes:
                        sizes[name] = rendered_files(destination)
    except BenchmarkError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    heading(f"render time per variant ({args.rounds} renders each, interleaved), seconds")
    print(
        f"   {'variant':<22} {'template':>9} {'+tasks':>7} {'min':>6} {'max':>6} "
        f"{'files':>6} {'lines':>7}"
    )
    for name, _ in variants:
        values = full[name]
        files, lines = sizes[name]
        flag = "  (no uv.lock: `uv lock` failed)" if name in unlocked else ""
        print(
            f"   {name:<22} {median(bare[name]):>9.2f} {median(values):>7.2f} "
            f"{min(values):>6.2f} {max(values):>6.2f} {files:>6} {lines:>7}{flag}"
        )
    note("template = medians with skip_tasks=True; +tasks = medians as a user gets it (min, max")
    note("of those); files and lines of the rendered project, copy-time tasks included")
    total = sum(median(values) for values in full.values())
    note(f"sum of +tasks medians (one copy of every variant): {total:.2f} s")
    if unlocked:
        note("a failed `uv lock` warns and moves on (hooks/lock.py): such a copy has no uv.lock")
    load_note()
    return 0


if __name__ == "__main__":
    sys.exit(main())
