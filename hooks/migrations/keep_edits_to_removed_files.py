"""After every update: keep the user's edits to files the update removed.

Copier deletes a file the new template version (or a changed answer) no longer renders even when
the user edited it, and says nothing. For each file the update deleted, this renders the previous
version as copier did and compares: an edited file leaves `<file>.rej`, the user's changes as a
diff against that version (`git apply` and `patch -p1` take it), beside where it was, and a
warning naming it. Unedited files go quietly, as copier meant. Nothing here fails the update:
it has already been merged.

Usage: keep_edits_to_removed_files.py ANSWERS_FILE, run in the project's directory after the
merge (the work tree was clean before the update: copier refuses a dirty one, so HEAD holds
what the user had).
"""

import difflib
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import copier
import yaml

# Bytes that are not UTF-8 go through unchanged, as they were in the user's file.
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, check=True)
    return result.stdout.decode(**ENCODING)


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
    """A unified diff git and patch apply: a tab ends the path, and a last line without a
    newline says so."""
    lines = difflib.unified_diff(
        rendered.splitlines(keepends=True),
        committed.splitlines(keepends=True),
        fromfile=f"a/{path}\t(template {version})",
        tofile=f"b/{path}\t(yours, before the update)",
    )
    return "".join(_marking_missing_newlines(lines))


def _marking_missing_newlines(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield f"{line}\n\\ No newline at end of file\n"


def free_name(path: str) -> Path:
    """`<file>.rej`, or `<file>.2.rej` and on if the user has one (maybe git-ignored)."""
    candidate, number = Path(f"{path}.rej"), 1
    while candidate.exists():
        number += 1
        candidate = Path(f"{path}.{number}.rej")
    return candidate


def keep_edits(path: str, rendered: Path, version: str) -> None:
    edits = user_edits(path, rendered.read_text(**ENCODING), committed_text(path), version)
    if not edits:
        return
    rejected = free_name(path)
    rejected.write_text(edits, **ENCODING)
    warn(
        f"this update removed {path}, which you had edited (template {version} had it; the new "
        f"version, or an answer you changed, does not). Your edits are in {rejected}, a diff: if "
        "the template moved the file, its CHANGELOG says where; apply them there, then delete "
        "the .rej file."
    )


def main(answers_file: str) -> int:
    try:
        keep_all_edits(answers_file)
    except Exception as error:  # the update is merged already: warn, never fail it
        warn(f"could not check the files this update removed: {error}")
    return 0


def keep_all_edits(answers_file: str) -> None:
    deleted = deleted_by_the_update()
    if not deleted:
        return
    answers = previous_answers(answers_file)
    version = str(answers.get("_commit", "before the update"))
    with tempfile.TemporaryDirectory(prefix="previous-template-") as scratch:
        try:
            render_previous_version(answers, Path(scratch))
        except Exception as error:  # the update is merged already: warn, never fail it
            warn(
                f"could not render template {version} ({str(error).rstrip('.')}), so edits you "
                "made to the files this update removed are not saved beside them: "
                f"{', '.join(deleted)}. Your versions are in the commit before the update: "
                "`git show HEAD:./<file>` (`HEAD~1` once you commit the update)."
            )
            return
        for path in deleted:
            rendered = Path(scratch, path)
            if not rendered.is_file():
                continue  # not the template's: copier only deletes what it once rendered
            try:
                keep_edits(path, rendered, version)
            except (OSError, subprocess.CalledProcessError) as error:
                warn(f"could not keep your edits to {path}: {error}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
