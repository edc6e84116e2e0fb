"""hooks/lock.py: a broken project fails the copy loudly; an offline `uv lock` only warns and says
what to run; on update it re-locks what changed and keeps the existing pins. And a branch of the
update migration that keeps edits to removed files."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import TEMPLATE_ROOT, child_env
from .helpers import load_hook, locked_versions

LOCK_HOOK = TEMPLATE_ROOT / "hooks" / "lock.py"
PYPROJECT = """[project]
name = "locked"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [{dependencies}]
"""


def run_lock_hook(project: Path, operation: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCK_HOOK), operation],
        cwd=project,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def project_with(tmp_path: Path, dependencies: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(dependencies=dependencies))
    return tmp_path


def test_a_pyproject_that_does_not_parse_fails_the_copy(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "C:\\queue"\n')

    result = run_lock_hook(tmp_path, "copy")

    assert result.returncode == 1
    assert "pyproject.toml does not parse" in result.stderr
    assert str(tmp_path / "pyproject.toml") in result.stderr


def test_a_lock_that_fails_for_the_project_fails_the_copy(tmp_path: Path) -> None:
    project = project_with(tmp_path, '"not a requirement!!"')

    result = run_lock_hook(project, "copy")

    assert result.returncode == 1
    assert "`uv lock` failed" in result.stderr
    assert "Fix pyproject.toml, then run `uv lock`" in result.stderr


def test_an_unreachable_index_only_warns_and_says_what_to_run(tmp_path: Path) -> None:
    project = project_with(tmp_path, '"no-such-package-for-template-tests>=1"')

    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    result = run_lock_hook(project, "copy", UV_INDEX_URL="http://127.0.0.1:9/simple")

    assert result.returncode == 0
    assert "could not reach the package index; run `uv lock` once you are online" in result.stderr


def test_a_python_uv_cannot_find_or_download_only_warns_and_says_what_to_install(
    tmp_path: Path,
) -> None:
    project = project_with(tmp_path, '"idna"')
    (project / ".python-version").write_text("3.99\n")  # no such Python anywhere

    result = run_lock_hook(project, "copy", UV_PYTHON_DOWNLOADS="never")

    assert result.returncode == 0, result.stderr
    assert "needs Python 3.99, which uv neither found nor may download" in result.stderr
    assert "(`uv python install 3.99`), then run `uv lock`" in result.stderr
    assert not (project / "uv.lock").exists()


def test_a_python_uv_cannot_download_only_warns_and_says_what_to_install(tmp_path: Path) -> None:
    project = project_with(tmp_path, '"idna"')
    (project / ".python-version").write_text("3.12\n")

    # Only a uv-managed Python counts, and its downloads go to loopback port 9, where nothing
    # listens: as offline, or where GitHub is out of reach.
    result = run_lock_hook(
        project,
        "copy",
        UV_PYTHON_PREFERENCE="only-managed",
        UV_PYTHON_INSTALL_DIR=str(tmp_path / "pythons"),
        UV_PYTHON_INSTALL_MIRROR="http://127.0.0.1:9",
    )

    assert result.returncode == 0, result.stderr
    assert "needs Python 3.12, which is not installed here and which uv could not" in result.stderr
    assert "(`uv python install 3.12` once online), then run `uv lock`" in result.stderr


def test_update_relocks_what_changed_and_keeps_existing_pins(tmp_path: Path) -> None:
    project = project_with(tmp_path, '"idna<3.7"')
    assert run_lock_hook(project, "copy").returncode == 0
    pinned = locked_versions(project)["idna"]
    # The update relaxes the bound and adds a dependency, as a new template version might.
    project_with(tmp_path, '"idna", "six"')

    result = run_lock_hook(project, "update")

    assert result.returncode == 0, result.stderr
    versions = locked_versions(project)
    assert versions["idna"] == pinned
    assert "six" in versions
    subprocess.run(["uv", "lock", "--check"], cwd=project, env=child_env(), check=True)


def test_update_of_a_project_without_a_lock_creates_none(tmp_path: Path) -> None:
    project = project_with(tmp_path, '"idna"')

    result = run_lock_hook(project, "update")

    assert result.returncode == 0
    assert not (project / "uv.lock").exists()


def test_kept_edits_never_overwrite_a_rej_file_the_user_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # test_update.py runs the migration in an update; this is the one branch an update there
    # does not reach: the user's own .rej files, maybe git-ignored, where the edits would go.
    keep_edits = load_hook("migrations/keep_edits_to_removed_files.py")
    monkeypatch.chdir(tmp_path)
    Path("dev.py.rej").write_text("the user's")
    Path("dev.py.2.rej").write_text("the user's too")

    assert keep_edits.free_name("dev.py") == Path("dev.py.3.rej")


MERGE_HOOK = TEMPLATE_ROOT / "hooks" / "migrations" / "merge_dependency_conflicts.py"
DEPENDENCIES = """[project]
name = "merged"
version = "0.1.0"
dependencies = [
{requirements}]

[tool.ruff]
line-length = {line_length}
"""


def pyproject_text(requirements: list[str], line_length: int = 100) -> str:
    lines = "".join(f'    "{requirement}",\n' for requirement in requirements)
    return DEPENDENCIES.format(requirements=lines, line_length=line_length)


def conflicted_project(tmp_path: Path, base: str, ours: str, theirs: str) -> Path:
    """A project whose pyproject.toml is unmerged as an update leaves it: markers in the file,
    the previous template version at stage 1 of the index, the team's at 2, the new one's at 3."""

    def git(*args: str, check: bool = True) -> None:
        identity = ["-c", "user.name=Team", "-c", "user.email=team@example.com"]
        subprocess.run(["git", *identity, *args], cwd=tmp_path, capture_output=True, check=check)

    pyproject = tmp_path / "pyproject.toml"
    git("init", "--quiet", "--initial-branch=team")
    pyproject.write_text(base)
    git("add", "pyproject.toml")
    git("commit", "--quiet", "--message", "the previous template version")
    git("switch", "--quiet", "--create", "template")
    pyproject.write_text(theirs)
    git("commit", "--quiet", "--all", "--message", "the new template version")
    git("switch", "--quiet", "team")
    pyproject.write_text(ours)
    git("commit", "--quiet", "--all", "--message", "the team's work")
    git("merge", "--quiet", "template", check=False)  # exits 1: the conflict
    return tmp_path


def unmerged(project: Path) -> str:
    return subprocess.run(
        ["git", "ls-files", "--unmerged"], cwd=project, capture_output=True, text=True, check=True
    ).stdout


PREVIOUS = ["alembic>=1.13", "fastapi>=0.115", "pydantic-settings>=2.6", "uvicorn>=0.32"]
RAISED = ["alembic>=1.13", "fastapi>=0.121", "pydantic-settings>=2.7", "uvicorn>=0.32"]
# (the team's requirements, the new template's, what the merged list must be; None: left marked)
DEPENDENCY_MERGES = {
    "team-added-next-to-raised-bounds": (
        [*PREVIOUS[:2], "orjson>=3.10", *PREVIOUS[2:]],
        RAISED,
        [*RAISED[:2], "orjson>=3.10", *RAISED[2:]],
    ),
    "template-dropped-one-team-added-one": (
        [*PREVIOUS[:2], "orjson>=3.10", *PREVIOUS[2:]],
        [PREVIOUS[0], "fastapi>=0.121", "httpx>=0.28", *PREVIOUS[3:]],
        [PREVIOUS[0], "fastapi>=0.121", "httpx>=0.28", "orjson>=3.10", *PREVIOUS[3:]],
    ),
    "both-changed-one-package": (
        [PREVIOUS[0], "fastapi>=0.118,<0.200", "orjson>=3.10", *PREVIOUS[2:]],
        RAISED,
        None,
    ),
}


@pytest.mark.parametrize(
    ("ours", "theirs", "merged"), DEPENDENCY_MERGES.values(), ids=DEPENDENCY_MERGES.keys()
)
def test_dependency_conflicts_are_merged_package_by_package(
    tmp_path: Path, ours: list[str], theirs: list[str], merged: list[str] | None
) -> None:
    project = conflicted_project(
        tmp_path, pyproject_text(PREVIOUS), pyproject_text(ours), pyproject_text(theirs)
    )
    marked = (project / "pyproject.toml").read_text()
    assert "<<<<<<< " in marked

    result = subprocess.run(
        [sys.executable, str(MERGE_HOOK)], cwd=project, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    text = (project / "pyproject.toml").read_text()
    if merged is None:  # a package both sides changed is the user's call: nothing is touched
        assert text == marked
        assert "both sides changed fastapi" in result.stderr
        assert unmerged(project)
    else:
        assert tomllib.loads(text)["project"]["dependencies"] == merged
        assert text == pyproject_text(merged)  # the rest of the file as it was
        assert unmerged(project) == ""  # an ordinary change now, as copier leaves the others


def test_a_conflict_outside_the_dependencies_is_left_to_the_user(tmp_path: Path) -> None:
    project = conflicted_project(
        tmp_path,
        pyproject_text(PREVIOUS),
        pyproject_text(PREVIOUS, line_length=120),
        pyproject_text(PREVIOUS, line_length=88),
    )
    marked = (project / "pyproject.toml").read_text()

    result = subprocess.run(
        [sys.executable, str(MERGE_HOOK)], cwd=project, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert (project / "pyproject.toml").read_text() == marked
    assert result.stderr == ""  # copier's markers say it all
