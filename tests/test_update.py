"""`copier update` from the recorded releases to the working tree keeps the user's work.

A throwaway clone of this repository gets the tags of RELEASES.toml and, on top, the working tree
committed and tagged as the candidate release. Projects are scaffolded at a real release, edited
the way teams edit them, and updated to the candidate. What the candidate changes is not spelled
out here: a fresh render of the candidate is the expectation for every file the user left alone.
"""

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from .conftest import child_env, run
from .helpers import locked_versions
from .releases import (
    ROOT,
    current_version,
    recorded,
    tag_name,
    throwaway_clone,
    update_sources,
)
from .variants import BASE_ANSWERS

GIT_ENV = child_env(
    GIT_AUTHOR_NAME="Template Tests",
    GIT_AUTHOR_EMAIL="tests@example.com",
    GIT_COMMITTER_NAME="Template Tests",
    GIT_COMMITTER_EMAIL="tests@example.com",
)
RELEASES = recorded()
# The working tree ships as the version pyproject.toml names; once that is released (recorded),
# the working tree is the next development version after it.
CANDIDATE = tag_name(
    current_version() if current_version() not in RELEASES else f"{current_version()}.post1.dev0"
)
UPDATE_FROM = update_sources(RELEASES)
# Never rendered by an update: the user owns them (.env by a copy-time task, uv.lock by uv).
USER_OWNED = {Path(".env"), Path("uv.lock")}
ANSWERS_FILE = Path(".copier-answers.yml")
CONFLICT = re.compile(r"^<{7} .*\n(?:.*\n)*?={7}\n(?:.*\n)*?>{7} ", re.MULTILINE)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run(["git", *args], cwd=cwd, env=env or GIT_ENV).stdout.strip()


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's history with the releases tagged, plus the work tree as the candidate."""
    base = tmp_path_factory.mktemp("template-history")
    repo = throwaway_clone(ROOT, base / "repo")
    # Commit the work tree (tracked and new files, minus ignored ones) without copying it: the
    # clone's git directory, a fresh index and this checkout as the work tree.
    commit_env = GIT_ENV | {
        "GIT_DIR": str(repo / ".git"),
        "GIT_WORK_TREE": str(ROOT),
        "GIT_INDEX_FILE": str(base / "candidate-index"),
    }
    git(ROOT, "add", "--all", env=commit_env)
    tree = git(ROOT, "write-tree", env=commit_env)
    head = git(ROOT, "rev-parse", "HEAD")
    parent = ["-p", head] if head_is_in(repo, head) else []
    message = f"Candidate {CANDIDATE}: the work tree under test"
    candidate = git(ROOT, "commit-tree", tree, *parent, "-m", message, env=commit_env)
    git(repo, "tag", CANDIDATE, candidate)
    return repo


def head_is_in(repo: Path, commit: str) -> bool:
    # A CI checkout of a pull request sits on a merge commit that a clone may not carry.
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, check=False)
    return found.returncode == 0


def render(template_repo: Path, destination: Path, ref: str, **answers: Any) -> Path:
    copier.run_copy(
        str(template_repo),
        destination,
        data=BASE_ANSWERS | answers,
        vcs_ref=ref,
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return destination


def scaffold(template_repo: Path, destination: Path, release: str, **answers: Any) -> Path:
    """A project as a team starts it: copied at a release, committed."""
    render(template_repo, destination, release, **answers)
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--message", f"scaffold from template {release}")
    return destination


@pytest.fixture(scope="module")
def candidate(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str]:
    """The candidate's files as `copier copy` renders them for the base answers (tasks skipped:
    .env and uv.lock are the user's, never compared)."""
    destination = tmp_path_factory.mktemp("candidate") / "project"
    copier.run_copy(
        str(template_repo),
        destination,
        data=BASE_ANSWERS,
        vcs_ref=CANDIDATE,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
    )
    return files(destination)


def update(project: Path) -> None:
    copier.run_update(
        project,
        vcs_ref=CANDIDATE,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        conflict="inline",
    )


def files(root: Path) -> dict[Path, str]:
    """Text of every file copier or the user put there (not git's, not tools' caches)."""
    skipped = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
    return {
        path.relative_to(root): path.read_text(errors="replace")
        for path in sorted(root.rglob("*"))
        if path.is_file() and not skipped.intersection(path.relative_to(root).parts)
    }


def answers(project: Path) -> dict[str, Any]:
    recorded_answers: dict[str, Any] = yaml.safe_load((project / ANSWERS_FILE).read_text())
    return recorded_answers


def requirements(project: Path) -> set[str]:
    return set(tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"])


def dev_requirements(project: Path) -> list[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    listed: list[str] = pyproject["dependency-groups"]["dev"]
    return listed


def conflicts(project: Path) -> list[Path]:
    return sorted(
        path
        for path, text in files(project).items()
        if path.suffix == ".rej" or re.search(r"^<{7} ", text, re.MULTILINE)
    )


def edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, f"the edit of {path} changed nothing: does the release render it?"
    path.write_text(after)


VENUE_MODEL = """from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base


class Venue(Base):
    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
"""

VENUE_MIGRATION = '''"""Add venues.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "venues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues")),
    )


def downgrade() -> None:
    op.drop_table("venues")
'''
TEAM_NOTES = "\n## Team notes\n\nOn call: the ticket squad.\n"
PAGE_SIZE = ("le=100)] = 20", "le=100)] = 25")  # the user's change to a route
TEAM_ROUTER = '''"""The team's own routes, registered in app.py."""

from fastapi import APIRouter

router = APIRouter(prefix="/team", tags=["team"])


@router.get("/on-call")
async def on_call() -> dict[str, str]:
    return {"squad": "tickets"}
'''
TEAM_IMPORT = "from .team import router as team_router\n"
TEAM_INCLUDE = "    app.include_router(team_router)\n"
TEAM_SETTING = '    team_squad: str = "tickets"\n'
# Files where a release rewrote the lines next to a typical edit: the update marks the conflict,
# with both versions, for the user to resolve. 0.3.0 rewrote the README's last section, app.py's
# imports and the end of Settings. (Its tickets routes call a service now, but the edited route's
# parameters merge cleanly.)
EXPECTED_CONFLICTS = {"v0.2.0": {"README.md", "app.py", "settings.py"}}


def resolve_as_a_user_would(path: Path, redo: Callable[[str], str]) -> None:
    """Keep the template's side of every conflict, then make one's own edit again."""
    conflict = re.compile(r"^<{7} [^\n]*\n.*?^={7}\n(.*?)^>{7} [^\n]*\n", re.DOTALL | re.MULTILINE)
    path.write_text(redo(conflict.sub(r"\1", path.read_text())))


def register_team_router(text: str) -> str:
    tickets_import, end = "from .tickets.router import", "    return app\n"
    if TEAM_IMPORT not in text:
        text = text.replace(tickets_import, TEAM_IMPORT + tickets_import)
    if TEAM_INCLUDE not in text:
        text = text.replace(end, TEAM_INCLUDE + end)
    return text


def add_team_setting(text: str) -> str:
    return text if TEAM_SETTING in text else text.rstrip("\n") + "\n" + TEAM_SETTING


def add_team_notes(text: str) -> str:
    return text if text.endswith(TEAM_NOTES) else text + TEAM_NOTES


# By file name: the user's edit, and a line of it that an update must never lose.
USER_EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "README.md": (add_team_notes, TEAM_NOTES.strip()),
    "router.py": (lambda text: text.replace(*PAGE_SIZE), PAGE_SIZE[1]),
    "app.py": (register_team_router, TEAM_INCLUDE.strip()),
    "settings.py": (add_team_setting, TEAM_SETTING.strip()),
}


ENV_SETTING = "CACHE_TTL_SECONDS=120\n"
# Next to pytest-asyncio, whose floor the template raised: git sees a conflict, uv would not.
TEAM_DEV_TOOL = "pytest-timeout>=2.3"


def make_typical_user_edits(project: Path) -> set[Path]:
    """A changed route, a router of the team's registered in app.py, a setting of its own, a
    model with its migration, a dependency and a dev tool added with `uv add`, team notes in the
    README, a setting in .env. Returns the files the user touched."""
    package = Path("src") / str(answers(project)["package_name"])
    edit(project / package / "tickets/router.py", USER_EDITS["router.py"][0])
    (project / package / "team.py").write_text(TEAM_ROUTER)
    edit(project / package / "app.py", USER_EDITS["app.py"][0])
    edit(project / package / "settings.py", USER_EDITS["settings.py"][0])
    (project / package / "venues.py").write_text(VENUE_MODEL)
    edit(
        project / package / "models.py",
        lambda s: s.replace(
            "from .tickets.models import Ticket",
            "from .tickets.models import Ticket\nfrom .venues import Venue",
        ).replace('__all__ = ["Base", "Ticket"]', '__all__ = ["Base", "Ticket", "Venue"]'),
    )
    (project / "migrations/versions/0002_venues.py").write_text(VENUE_MIGRATION)
    run(["uv", "add", "--quiet", "orjson>=3.10"], cwd=project)
    run(["uv", "add", "--quiet", "--dev", TEAM_DEV_TOOL], cwd=project)
    edit(project / "README.md", USER_EDITS["README.md"][0])
    edit(project / ".env", lambda s: s + ENV_SETTING)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "our work")
    return {
        package / "tickets/router.py",
        package / "team.py",
        package / "app.py",
        package / "settings.py",
        package / "venues.py",
        package / "models.py",
        Path("migrations/versions/0002_venues.py"),
        Path("pyproject.toml"),
        Path("README.md"),
    } | USER_OWNED


@pytest.mark.xdist_group("update")
@pytest.mark.parametrize("release", UPDATE_FROM)
def test_update_keeps_user_work_and_brings_the_template_changes(
    template_repo: Path,
    candidate: dict[Path, str],
    tmp_path: Path,
    release: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project = scaffold(template_repo, tmp_path / "project", release)
    scaffolded = files(project)
    answered = answers(project)
    edited = make_typical_user_edits(project)
    env_before = (project / ".env").read_text()
    pins_before, requirements_before = locked_versions(project), requirements(project)
    new = candidate
    assert {path for path in new if scaffolded.get(path) != new[path]} - {ANSWERS_FILE}, (
        f"the candidate renders the same files as {release}: nothing to update"
    )

    update(project)

    package = Path("src") / str(answered["package_name"])
    expected = {
        Path(name) if name == "README.md" else package / name
        for name in EXPECTED_CONFLICTS.get(release, set())
    }
    marked = set(conflicts(project))
    assert marked == expected
    # Named, for updates run over many projects: copier itself prints none of them.
    warnings = [line for line in capfd.readouterr().err.splitlines() if "conflict markers" in line]
    if marked:
        [warning] = warnings
        listed = warning.split(" conflict markers in ", 1)[1].split(": ", 1)[0]
        assert set(map(Path, listed.split(", "))) == marked
    else:
        assert warnings == []
    for path in marked:  # both versions are in the markers: nothing of the user's is lost
        redo, mark = USER_EDITS[path.name]
        assert mark in (project / path).read_text()
        resolve_as_a_user_would(project / path, redo)
    updated = files(project)
    # Every answer carried over (a renamed question needs a `_migrations` step and its own test,
    # like the declined-cache one below); questions the candidate adds get their defaults.
    after = answers(project)
    assert {name: after.get(name) for name in answered} == answered | {"_commit": CANDIDATE}
    # The template's changes arrived: what the user left alone is now the candidate's version,
    # and what the candidate no longer renders is gone.
    untouched = {path for path in new if path not in edited | {ANSWERS_FILE}}
    assert {path: updated.get(path) for path in untouched} == {
        path: new[path] for path in untouched
    }
    dropped = {path for path in scaffolded if path not in new and path not in edited}
    assert dropped.isdisjoint(updated), "files the candidate no longer renders are still there"
    # In files the user only added to, the template's version is there as well as the addition.
    for path in (Path("README.md"), Path("pyproject.toml")):
        assert set(new[path].splitlines()) <= set(updated[path].splitlines()), path
    # The user's work is all still there.
    assert "le=100)] = 25" in updated[package / "tickets/router.py"]
    assert updated[package / "team.py"] == TEAM_ROUTER
    assert TEAM_INCLUDE in updated[package / "app.py"]
    assert TEAM_SETTING in updated[package / "settings.py"]
    assert updated[package / "venues.py"] == VENUE_MODEL
    assert "from .venues import Venue" in updated[package / "models.py"]
    assert updated[Path("migrations/versions/0002_venues.py")] == VENUE_MIGRATION
    assert "orjson>=3.10" in str(requirements(project))
    assert TEAM_DEV_TOOL in dev_requirements(project)
    assert updated[Path("README.md")].endswith(TEAM_NOTES)
    # Secrets are never rewritten; locked versions stay unless the template changed their
    # requirement (the lock may gain what the template added).
    assert (project / ".env").read_text() == env_before
    changed_requirements = requirements(project) ^ requirements_before
    pins_after = locked_versions(project)
    moved = {
        name: (version, pins_after.get(name))
        for name, version in pins_before.items()
        if name in pins_after
        and pins_after[name] != version
        and not any(requirement.startswith(name) for requirement in changed_requirements)
    }
    assert moved == {}, "an update moved the user's locked versions"

    # And the updated project installs from its lock and passes its suite on real services.
    project_env = child_env(CI="true")
    run(["uv", "sync", "--locked"], cwd=project, env=project_env)
    result = run(
        ["uv", "run", "--locked", "pytest", "-p", "no:cacheprovider"], cwd=project, env=project_env
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert " failed" not in summary


@pytest.mark.xdist_group("update")
@pytest.mark.parametrize("release", UPDATE_FROM)
def test_edit_to_a_line_the_template_changes_ends_in_conflict_markers(
    template_repo: Path, candidate: dict[Path, str], tmp_path: Path, release: str
) -> None:
    project = scaffold(template_repo, tmp_path / "project", release)
    scaffolded, new = files(project), candidate
    # The first line of a file both versions render that the candidate changes or drops.
    changed_lines = (
        (path, line)
        for path in sorted(set(scaffolded) & set(new) - USER_OWNED - {ANSWERS_FILE})
        if scaffolded[path] != new[path]
        for line in scaffolded[path].splitlines()
        if line.strip() and line not in new[path].splitlines()
    )
    found = next(changed_lines, None)
    assert found, f"the candidate changes no line of a file {release} renders: nothing to test"
    path, line = found
    mine = f"{line}  # ours"
    edit(project / path, lambda s: s.replace(f"{line}\n", f"{mine}\n", 1))
    git(project, "commit", "--quiet", "--all", "--message", "our change")

    update(project)

    text = (project / path).read_text()
    assert conflicts(project) == [path]
    # Nothing silently lost: our line is there, between Copier's markers.
    assert mine in text
    assert CONFLICT.search(text), text


@pytest.mark.xdist_group("update")
@pytest.mark.parametrize("release", UPDATE_FROM)
def test_update_keeps_a_declined_cache_declined(
    template_repo: Path, tmp_path: Path, release: str
) -> None:
    project = scaffold(template_repo, tmp_path / "project", release, use_cache=False)
    package = project / "src" / str(answers(project)["package_name"])
    assert not (package / "cache.py").exists()

    update(project)

    assert answers(project)["use_cache"] is False
    assert not (package / "cache.py").exists()
    assert not [req for req in requirements(project) if req.startswith("redis")]


@pytest.mark.xdist_group("update")
@pytest.mark.parametrize("release", UPDATE_FROM)
def test_recopy_keeps_the_files_the_user_owns(
    template_repo: Path, tmp_path: Path, release: str
) -> None:
    project = scaffold(template_repo, tmp_path / "project", release)
    env, pins = (project / ".env").read_bytes(), locked_versions(project)

    copier.run_recopy(
        project, vcs_ref=CANDIDATE, defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    assert (project / ".env").read_bytes() == env
    assert {name: locked_versions(project).get(name) for name in pins} == pins
    assert answers(project)["_commit"] == CANDIDATE


OUR_FIXTURE = """

@pytest.fixture
def our_team() -> str:
    return "ticket squad"
"""
OUR_DEV_TWEAK = "# ours: the team's dev tweak\n"
# Not UTF-8 (a latin-1 é), and no newline at the end: the kept diff must carry both as they are.
OUR_SERVICES_TAIL = b"\n# caf\xe9, ours"


@pytest.mark.xdist_group("update")
def test_edits_to_files_0_3_0_moved_are_kept_for_the_user_to_move(
    template_repo: Path, tmp_path: Path
) -> None:
    """0.3.0 moved `dev` to devtools/ and the fixtures out of tests/conftest.py (CHANGELOG: what
    to do). Copier deletes the old files though the user edited them; each edit is left beside
    its file as a `.rej` diff that git applies, and files they did not edit go without one. The
    rewritten conftest holds the user's fixture for them to move."""
    release = tag_name("0.2.0")
    project = scaffold(template_repo, tmp_path / "project", release)
    package = Path("src") / str(answers(project)["package_name"])
    edit(project / package / "dev.py", lambda s: OUR_DEV_TWEAK + s)
    services = project / "tests/services.py"
    services.write_bytes(services.read_bytes() + OUR_SERVICES_TAIL)
    edit(project / "tests/conftest.py", lambda s: s + OUR_FIXTURE)
    git(project, "commit", "--quiet", "--all", "--message", "our dev and fixture changes")

    update(project)

    updated = files(project)
    assert Path("devtools/src/devtools/dev.py") in updated  # the new home arrived
    assert package / "dev.py" not in updated
    # hooks/migrations/keep_edits_to_removed_files.py: each edit, as a diff against 0.2.0's file.
    kept = updated[package / "dev.py.rej"]
    assert kept.startswith(f"--- a/{(package / 'dev.py').as_posix()}\t(template {release})\n")
    assert [line for line in kept.splitlines() if line.startswith(("+", "-"))][2:] == [
        f"+{OUR_DEV_TWEAK.rstrip()}"
    ]
    kept_services = (project / "tests/services.py.rej").read_bytes()
    assert kept_services.endswith(b"+# caf\xe9, ours\n\\ No newline at end of file\n")
    for rejected in (package / "dev.py.rej", Path("tests/services.py.rej")):
        # Exactly the user's edits: undone from the files they committed, git takes them.
        git(project, "apply", "--cached", "--check", "--reverse", rejected.as_posix())
    # tests/redis_service.py moved too, unedited: nothing is left for it.
    assert Path("tests/redis_service.py") not in updated
    assert sorted(path for path in updated if path.suffix == ".rej") == [
        package / "dev.py.rej",
        Path("tests/services.py.rej"),
    ]
    # The rewritten conftest holds the user's fixture between conflict markers.
    conftest = updated[Path("tests/conftest.py")]
    assert CONFLICT.search(conftest), conftest
    assert "def our_team() -> str:" in conftest
