"""`copier update` from an older template version to the working tree keeps the user's work.

A throwaway git repository holds the template twice: v0.1.0, rebuilt from the working tree by
undoing what CHANGELOG.md lists for 0.2.0, and v0.2.0, the working tree itself.
"""

import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

from .conftest import TEMPLATE_ROOT, child_env, run
from .variants import BASE_ANSWERS

GIT_ENV = child_env(
    GIT_AUTHOR_NAME="Template Tests",
    GIT_AUTHOR_EMAIL="tests@example.com",
    GIT_COMMITTER_NAME="Template Tests",
    GIT_COMMITTER_EMAIL="tests@example.com",
)
TEMPLATE_PARTS = ("copier.yml", "template", "hooks")
READINESS_NOW = "readiness_timeout_seconds: float = Field(default=2.0, gt=0)"
READINESS_IN_0_1_0 = "readiness_timeout_seconds: float = Field(default=5.0, gt=0)"


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd, env=GIT_ENV).stdout


def rewind_to_0_1_0(template: Path) -> None:
    """Undo the 0.2.0 changes: the question was `use_redis`, readiness waited 5 s."""
    for path in sorted(template.rglob("*"), reverse=True):  # children before their folders
        if path.is_file() and path.suffix not in {".pyc"}:
            text = path.read_text()
            path.write_text(
                text.replace("use_cache", "use_redis").replace(READINESS_NOW, READINESS_IN_0_1_0)
            )
        if "use_cache" in path.name:
            path.rename(path.with_name(path.name.replace("use_cache", "use_redis")))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template-repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")

    def snapshot() -> None:
        for part in TEMPLATE_PARTS:
            target = repo / part
            if target.is_dir():
                shutil.rmtree(target)
            source = TEMPLATE_ROOT / part
            if source.is_dir():
                shutil.copytree(source, target, ignore=ignore)
            else:
                shutil.copy2(source, target)

    git(repo, "init", "--quiet", "--initial-branch=main")
    snapshot()
    rewind_to_0_1_0(repo)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "0.1.0")
    git(repo, "tag", "v0.1.0")
    snapshot()
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "0.2.0")
    git(repo, "tag", "v0.2.0")
    return repo


def scaffold_0_1_0(template_repo: Path, destination: Path, **answers: object) -> Path:
    copier.run_copy(
        str(template_repo),
        destination,
        data=BASE_ANSWERS | answers,
        vcs_ref="v0.1.0",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--message", "scaffold from template 0.1.0")
    return destination


def update_to_0_2_0(project: Path) -> None:
    copier.run_update(
        project,
        vcs_ref="v0.2.0",
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        conflict="inline",
    )


def edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, f"the edit of {path} changed nothing"
    path.write_text(after)


def conflicts(project: Path) -> list[str]:
    found = [str(path) for path in project.rglob("*.rej") if ".venv" not in path.parts]
    for path in project.rglob("*"):
        if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts:
            text = path.read_text(errors="replace")
            if re.search(r"^<{7} ", text, re.MULTILINE):
                found.append(str(path))
    return found


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


def make_typical_user_edits(project: Path) -> None:
    package = project / "src/ticket_office"
    edit(package / "tickets/router.py", lambda s: s.replace("le=100)] = 20", "le=100)] = 25"))
    (package / "venues.py").write_text(VENUE_MODEL)
    edit(
        package / "models.py",
        lambda s: s.replace(
            "from .tickets.models import Ticket",
            "from .tickets.models import Ticket\nfrom .venues import Venue",
        ).replace('__all__ = ["Base", "Ticket"]', '__all__ = ["Base", "Ticket", "Venue"]'),
    )
    (project / "migrations/versions/0002_venues.py").write_text(VENUE_MIGRATION)
    edit(
        project / "pyproject.toml",
        lambda s: s.replace('"alembic>=1.13",', '"alembic>=1.13",\n    "orjson>=3.10",'),
    )
    edit(project / "README.md", lambda s: s + "\n## Team notes\n\nOn call: the ticket squad.\n")
    edit(project / ".env", lambda s: s + "CACHE_TTL_SECONDS=120\n")


def locked_versions(lock: bytes) -> dict[str, str]:
    packages = tomllib.loads(lock.decode())["package"]
    return {package["name"]: package.get("version", "") for package in packages}


@pytest.mark.xdist_group("update")
def test_update_keeps_user_work_and_brings_the_template_change(
    template_repo: Path, tmp_path: Path
) -> None:
    project = scaffold_0_1_0(template_repo, tmp_path / "project")
    settings = project / "src/ticket_office/settings.py"
    assert READINESS_IN_0_1_0 in settings.read_text()
    assert "use_redis: true" in (project / ".copier-answers.yml").read_text()
    make_typical_user_edits(project)
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "our work")
    env_before = (project / ".env").read_text()
    lock_before = (project / "uv.lock").read_bytes()

    update_to_0_2_0(project)

    assert conflicts(project) == []
    # The template's change arrived, and the migration carried the renamed answer over.
    assert READINESS_NOW in settings.read_text()
    answers = (project / ".copier-answers.yml").read_text()
    assert "_commit: v0.2.0" in answers
    assert "use_cache: true" in answers
    assert "use_redis" not in answers
    # The user's work is all still there.
    assert "le=100)] = 25" in (project / "src/ticket_office/tickets/router.py").read_text()
    assert (project / "src/ticket_office/venues.py").read_text() == VENUE_MODEL
    assert "from .venues import Venue" in (project / "src/ticket_office/models.py").read_text()
    assert (project / "migrations/versions/0002_venues.py").read_text() == VENUE_MIGRATION
    assert '"orjson>=3.10",' in (project / "pyproject.toml").read_text()
    assert "## Team notes" in (project / "README.md").read_text()
    # Secrets are untouched; the lock was refreshed after the merge: every pin it had is kept,
    # and the user's new dependency is locked, so `uv sync --locked` needs no manual step.
    assert (project / ".env").read_text() == env_before
    lock_after = locked_versions((project / "uv.lock").read_bytes())
    assert locked_versions(lock_before).items() <= lock_after.items()
    assert "orjson" in lock_after

    # And the updated project still passes its own suite on real services.
    project_env = child_env(CI="true")
    run(["uv", "sync", "--locked"], cwd=project, env=project_env)
    result = run(["uv", "run", "pytest", "-p", "no:cacheprovider"], cwd=project, env=project_env)
    assert " passed" in result.stdout.strip().splitlines()[-1]


@pytest.mark.xdist_group("update")
def test_update_keeps_a_declined_cache_declined_across_the_rename(
    template_repo: Path, tmp_path: Path
) -> None:
    project = scaffold_0_1_0(template_repo, tmp_path / "project", use_redis=False)
    assert not (project / "src/ticket_office/cache.py").exists()

    update_to_0_2_0(project)

    assert "use_cache: false" in (project / ".copier-answers.yml").read_text()
    assert not (project / "src/ticket_office/cache.py").exists()
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    assert not [dependency for dependency in dependencies if dependency.startswith("redis")]


@pytest.mark.xdist_group("update")
def test_conflicting_edit_ends_with_conflict_markers(template_repo: Path, tmp_path: Path) -> None:
    project = scaffold_0_1_0(template_repo, tmp_path / "project")
    settings = project / "src/ticket_office/settings.py"
    mine = "readiness_timeout_seconds: float = Field(default=3.0, gt=0)"
    edit(settings, lambda s: s.replace(READINESS_IN_0_1_0, mine))
    git(project, "commit", "--quiet", "--all", "--message", "our timeout")

    update_to_0_2_0(project)

    text = settings.read_text()
    assert conflicts(project) == [str(settings)]
    # Nothing silently lost: both sides are in the file, between Copier's markers.
    assert mine in text
    assert READINESS_NOW in text
    assert re.search(r"^<{7} .*\n(.*\n)*={7}\n(.*\n)*>{7} ", text, re.MULTILINE)


@pytest.mark.xdist_group("update")
def test_recopy_keeps_the_files_the_user_owns(template_repo: Path, tmp_path: Path) -> None:
    project = scaffold_0_1_0(template_repo, tmp_path / "project")
    owned = {name: (project / name).read_bytes() for name in (".env", "uv.lock")}

    copier.run_recopy(
        project, vcs_ref="v0.2.0", defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    assert {name: (project / name).read_bytes() for name in owned} == owned
    assert READINESS_NOW in (project / "src/ticket_office/settings.py").read_text()
