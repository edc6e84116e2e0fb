"""After every update: keep the user's edits to files the new template version no longer has.

Copier deletes a file the template dropped (or moved) even when the user edited it, and says
nothing. For each file the update deleted, this renders the previous version as copier did and
compares: an edited file leaves `<file>.rej`, the user's changes as a diff against that version,
beside where it was, and a warning naming it. Unedited files go quietly, as copier meant.

Usage: keep_edits_to_removed_files.py ANSWERS_FILE, run in the project's directory after the
merge (the work tree was clean before the update: copier refuses a dirty one, so HEAD holds
what the user had).
"""

import difflib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import copier
import yaml


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def deleted_by_the_update() -> list[str]:
    """Files in the last commit that are gone from the work tree."""
    return [path for path in git("ls-files", "--deleted", "-z").split("\0") if path]


def committed_text(path: str) -> str:
    return git("show", f"HEAD:./{path}")


def previous_answers(answers_file: str) -> dict[str, Any]:
    answers: dict[str, Any] = yaml.safe_load(committed_text(answers_file))
    return answers


def render_previous_version(answers: dict[str, Any], destination: Path) -> None:
    """The previous version for the previous answers, as copier renders its old copy."""
    copier.run_copy(
        answers["_src_path"],
        destination,
        data={key: value for key, value in answers.items() if not key.startswith("_")},
        vcs_ref=answers["_commit"],
        defaults=True,
        quiet=True,
        skip_tasks=True,
        unsafe=True,  # the update itself was trusted to run this template's code
    )


def user_edits(path: str, rendered: str, committed: str, version: str) -> str:
    return "".join(
        difflib.unified_diff(
            rendered.splitlines(keepends=True),
            committed.splitlines(keepends=True),
            fromfile=f"{path} (template {version})",
            tofile=f"{path} (yours, before the update)",
        )
    )


def main(answers_file: str) -> int:
    deleted = deleted_by_the_update()
    if not deleted:
        return 0
    answers = previous_answers(answers_file)
    version = str(answers.get("_commit", "before the update"))
    with tempfile.TemporaryDirectory(prefix="previous-template-") as scratch:
        try:
            render_previous_version(answers, Path(scratch))
        except Exception as error:  # any failure here must not fail an update that succeeded
            print(
                f"warning: could not render template {version} to check your edits to the files "
                f"this update deleted ({', '.join(deleted)}): {error}. `git diff HEAD` lists "
                "them; `git show HEAD:<file>` shows your version.",
                file=sys.stderr,
            )
            return 0
        for path in deleted:
            rendered = Path(scratch, path)
            if not rendered.is_file():
                continue  # not the template's: copier only deletes what it once rendered
            edits = user_edits(path, rendered.read_text(), committed_text(path), version)
            if not edits:
                continue
            rejected = Path(f"{path}.rej")
            rejected.write_text(edits)
            print(
                f"warning: this template version no longer has {path}, which you had edited; "
                f"your edits are in {rejected} (a diff against template {version}). The template's "
                "CHANGELOG says where it went: apply them there, then delete the .rej file.",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
