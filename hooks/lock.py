"""Copy/update-time task: create or refresh uv.lock so `uv sync --locked` (CI, Docker) works.

Usage: lock.py copy|update, run in the project's directory.

`uv lock` keeps every version already locked and only resolves what pyproject.toml changed, so an
update never clobbers the user's pins. A pyproject.toml that does not parse, or a `uv lock` that
fails for any reason but the network, fails the copy: the project would be broken from its first
commit. Without uv, the project's Python or a package index this warns, says what to run,
and moves on.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

# What uv prints when the package index cannot be reached (DNS, refused or reset connections,
# timeouts, offline mode); any other failure is the project's and must not pass silently.
NETWORK_FAILURE = re.compile(
    r"error sending request|failed to fetch|dns error|failed to lookup address|"
    r"connection (refused|reset)|network (is )?unreachable|tcp connect error|timed out|"
    r"network connectivity is disabled|network was disabled|--offline",
    re.IGNORECASE,
)
# What uv prints when the project's Python is neither installed nor downloadable here: the
# machine's to fix, not the project's.
NO_INTERPRETER = re.compile(r"no interpreter found for python ([^\s]+)", re.IGNORECASE)
# What uv prints when it went to download the project's Python and could not (offline, GitHub
# unreachable; uv wraps long lines): also the machine's, and not the package index's.
PYTHON_DOWNLOAD_FAILED = re.compile(r"failed to download\s+\S*cpython-(\d+\.\d+)", re.IGNORECASE)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def warn(message: str) -> int:
    print(f"warning: {message}", file=sys.stderr)
    return 0


def main(operation: str) -> int:
    pyproject = Path("pyproject.toml")
    lock_file = Path("uv.lock")
    if operation == "update" and not lock_file.exists():
        return 0  # a project that keeps no lock (or a scratch copy copier makes) gets none
    try:
        tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        problem = f"{pyproject.resolve()} does not parse ({error})"
        if operation == "update":
            # Most likely merge conflict markers: the user resolves them, then locks.
            return warn(f"{problem}: fix it (resolve any conflict), then run `uv lock`")
        return fail(f"{problem}; this is a template bug, please report it with your answers")
    uv = shutil.which("uv")
    if uv is None:
        return warn("uv not found: install uv, then run `uv lock` before `uv sync --locked`")
    result = subprocess.run([uv, "lock", "--quiet"], check=False, capture_output=True, text=True)
    if result.returncode == 0:
        return 0
    missing = NO_INTERPRETER.search(result.stderr)
    no_python = missing or PYTHON_DOWNLOAD_FAILED.search(result.stderr)
    if no_python:
        version = no_python.group(1)
        why, when = (
            ("which uv neither found nor may download", "")
            if missing
            else ("which is not installed here and which uv could not download", " once online")
        )
        return warn(
            f"`uv lock` needs Python {version}, {why}: install it (`uv python install "
            f"{version}`{when}), then run `uv lock` (before `uv sync --locked`):\n{result.stderr}"
        )
    if NETWORK_FAILURE.search(result.stderr):
        return warn(
            "`uv lock` could not reach the package index; run `uv lock` once you are online "
            f"(before `uv sync --locked`):\n{result.stderr}"
        )
    return fail(
        f"`uv lock` failed for {pyproject.resolve()}:\n{result.stderr}"
        "Fix pyproject.toml, then run `uv lock`."
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "copy"))
