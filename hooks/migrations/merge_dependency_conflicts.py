"""After every update: resolve conflicts in pyproject.toml's dependency lists, requirement by
requirement, where the answer is clear.

`uv add` puts a team's dependency in alphabetical order, usually next to one of the template's, so
when a release raises the template's bound (`fastapi>=0.115` to `>=0.132`), git sees two edits
to neighbouring lines and leaves conflict markers. The project then does not parse and `uv lock`
cannot refresh it. Compared by package, there is no conflict: the team added one, the template
raised another.

For each conflict inside a dependency array, the lines on both sides must all be requirements
(`"name>=1",`). Each package is merged three ways against the previous template version (stage 1
of the index, which copier writes for a conflicted file):
- one side changed it: that side's line;
- both sides changed it the same way: that line;
- both changed it differently, or one changed what the other removed: the block stays marked.

Anything else is left to the user as copier marked it. Nothing here fails the update: it has
already been merged.

Usage: merge_dependency_conflicts.py, run in the project's directory after the merge.
"""

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PYPROJECT = "pyproject.toml"
# Copier's labels (`git merge-file -L ...`); the base section appears with diff3-style conflicts.
OURS, BASE, THEIRS, END = "<<<<<<< ", "||||||| ", "=======", ">>>>>>> "
REQUIREMENT_LINE = re.compile(r'^\s*"(?P<requirement>[^"\\]+)",\s*(#.*)?$')
ARRAY_START = re.compile(r"^\s*(?P<key>\"[^\"]+\"|[A-Za-z0-9_-]+)\s*=\s*\[\s*(#.*)?$")
TABLE = re.compile(r"^\s*\[\[?(?P<table>[^\[\]]+)\]\]?\s*(#.*)?$")  # [table] or [[array.of.tables]]
# The arrays that hold requirements, by table.
DEPENDENCY_TABLES = {"project", "project.optional-dependencies", "dependency-groups"}

Requirements = dict[str, str]  # canonical package name -> the requirement as written


class Unresolved(Exception):
    """A conflict in a dependency array to leave to the user, and why."""


class NotADependencyConflict(Exception):
    """A conflict elsewhere in the file: the user's, as copier marked it."""


@dataclass
class Conflict:
    start: int  # index of the `<<<<<<<` line
    end: int  # index of the `>>>>>>>` line
    ours: list[str]
    theirs: list[str]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def package(requirement: str) -> str:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement as error:
        raise Unresolved(f"{requirement!r} is not a requirement") from error


def requirement_of(line: str) -> str:
    match = REQUIREMENT_LINE.match(line)
    if match is None:
        raise Unresolved(f"{line.strip()!r} is not a requirement line")
    return match["requirement"]


def by_package(requirements: list[str]) -> Requirements:
    return {package(requirement): requirement for requirement in requirements}


def conflicts(lines: list[str]) -> Iterator[Conflict]:
    index = 0
    while index < len(lines):
        if not lines[index].startswith(OURS):
            index += 1
            continue
        start, side, ours, theirs = index, "ours", [], []
        index += 1
        while index < len(lines) and not lines[index].startswith(END):
            line = lines[index]
            if line.startswith(BASE):
                side = "base"
            elif line.rstrip("\n") == THEIRS:
                side = "theirs"
            elif side == "ours":
                ours.append(line)
            elif side == "theirs":
                theirs.append(line)
            index += 1
        if index == len(lines):
            return  # no end marker: not copier's conflict
        yield Conflict(start, index, ours, theirs)
        index += 1


def array_around(lines: list[str], start: int) -> tuple[str, str]:
    """The table and key of the array the line at `start` is inside, read upwards."""
    index = start - 1
    while index >= 0 and not (lines[index].strip().startswith("]") or TABLE.match(lines[index])):
        if array := ARRAY_START.match(lines[index]):
            table = next(
                (found for line in reversed(lines[:index]) if (found := TABLE.match(line))), None
            )
            if table is None:
                break
            return table["table"].strip(), array["key"].strip('"')
        index -= 1
    raise NotADependencyConflict


def array(document: dict[str, Any], table: str, key: str) -> Requirements:
    if table not in DEPENDENCY_TABLES or (table == "project" and key != "dependencies"):
        raise NotADependencyConflict
    node: Any = document
    for part in table.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    values = node.get(key, []) if isinstance(node, dict) else []
    return by_package([value for value in values if isinstance(value, str)])


def merged_line(name: str, ours: dict[str, str], theirs: dict[str, str], base: Requirements) -> str:
    """The line to keep for package `name`, or "" to drop it: `ours` and `theirs` map each
    package to its line on that side of the conflict."""
    our_line, their_line, before = ours.get(name), theirs.get(name), base.get(name)
    mine = requirement_of(our_line) if our_line else None
    template = requirement_of(their_line) if their_line else None
    if mine == template:
        return our_line or ""
    if mine == before:
        return their_line or ""  # only the template changed (or dropped) it
    if template == before:
        return our_line or ""  # only the team changed (or dropped) it
    raise Unresolved(f"both sides changed {name}: yours {mine!r}, the template's {template!r}")


def resolve(conflict: Conflict, base: Requirements) -> list[str]:
    ours = {package(requirement_of(line)): line for line in conflict.ours}
    theirs = {package(requirement_of(line)): line for line in conflict.theirs}
    names = list(ours) + [name for name in theirs if name not in ours]
    if list(ours) == sorted(ours):
        names.sort()  # the team keeps them sorted, as `uv add` does
    kept = [merged_line(name, ours, theirs, base) for name in names]
    return [line for line in kept if line]


def resolved_text(text: str, base_document: dict[str, Any]) -> tuple[str, list[str]]:
    """The text with every conflict it can resolve resolved, and why each other one was not."""
    lines = text.splitlines(keepends=True)
    kept_back: list[str] = []
    for conflict in reversed(list(conflicts(lines))):
        try:
            base = array(base_document, *array_around(lines, conflict.start))
            lines[conflict.start : conflict.end + 1] = resolve(conflict, base)
        except NotADependencyConflict:
            continue
        except Unresolved as reason:
            kept_back.append(str(reason))
    return "".join(lines), kept_back


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, check=True, text=True).stdout


def marked(text: str) -> bool:
    return any(line.startswith(OURS) for line in text.splitlines())


def merge(pyproject: Path) -> None:
    text = pyproject.read_text(encoding="utf-8")
    if not marked(text):
        return
    try:
        base_document = tomllib.loads(git("show", f":1:./{PYPROJECT}"))
    except (subprocess.CalledProcessError, tomllib.TOMLDecodeError):
        return  # no base to compare with (say, `--conflict rej`): leave the markers
    resolved, kept_back = resolved_text(text, base_document)
    if kept_back:
        warn(
            f"{PYPROJECT}: left a conflict in its dependencies for you to resolve "
            f"({'; '.join(kept_back)}); then run `uv lock`"
        )
    if resolved == text:
        return
    if marked(resolved):  # resolved in part: the rest stays marked for the user
        pyproject.write_text(resolved, encoding="utf-8")
        return
    tomllib.loads(resolved)  # never write a resolution that does not parse
    pyproject.write_text(resolved, encoding="utf-8")
    git("reset", "--quiet", "--", PYPROJECT)  # no longer unmerged: an ordinary change
    print(
        f"{PYPROJECT}: merged your dependencies with the template's, package by package",
        file=sys.stderr,
    )


def main() -> int:
    try:
        merge(Path(PYPROJECT))
    except Exception as error:  # the update is merged already: warn, never fail it
        warn(f"could not merge the dependency conflicts in {PYPROJECT}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
