"""After every update, last: name the files it left conflict markers in.

Copier marks them, and git lists them as unmerged, but copier prints nothing about them: an update
run over many projects, or from a script, would pass them by.

Usage: report_conflicts.py, run in the project's directory after the other migrations.
"""

import subprocess
import sys


def unmerged() -> list[str]:
    """The paths git holds more than one version of, relative to here."""
    listed = subprocess.run(
        ["git", "ls-files", "--unmerged", "-z"], capture_output=True, check=True
    ).stdout.decode("utf-8", "surrogateescape")
    # One entry per version: `<mode> <sha> <stage>\t<path>`.
    return sorted({entry.split("\t", 1)[1] for entry in listed.split("\0") if "\t" in entry})


def main() -> int:
    try:
        conflicted = unmerged()
    except (OSError, subprocess.CalledProcessError):
        return 0  # not a git work tree, or no git: nothing was marked as unmerged
    if conflicted:
        then = "run `uv lock`, " if "pyproject.toml" in conflicted else ""
        print(
            f"warning: this update left conflict markers in {', '.join(conflicted)}: keep what "
            f"you need from both sides and delete the markers, then {then}commit (`git status` "
            "lists them as unmerged until you `git add` them)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
