"""Copy/update-time task: create or refresh uv.lock so `uv sync --locked` (CI, Docker) works.

`uv lock` keeps every version already locked and only resolves what pyproject.toml changed, so an
update never clobbers the user's pins. Without uv or a package index this warns and moves on.
"""

import shutil
import subprocess
import sys


def main() -> int:
    uv = shutil.which("uv")
    if uv is None:
        print("uv not found: run `uv lock` yourself before `uv sync --locked`", file=sys.stderr)
        return 0
    result = subprocess.run([uv, "lock", "--quiet"], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"`uv lock` failed, run it again later:\n{result.stderr}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
