"""Invalid answers are rejected by copier.yml's validators, with a message, before any file is
written; the copy-time task never overwrites a user's .env."""

import re
from pathlib import Path

import copier
import pytest
import yaml

from .variants import BASE_ANSWERS, REJECTED, Rejected


@pytest.mark.parametrize("case", REJECTED, ids=[case.id for case in REJECTED])
def test_invalid_answer_is_rejected_and_nothing_is_written(
    template: Path, tmp_path: Path, case: Rejected
) -> None:
    destination = tmp_path / "project"

    with pytest.raises(ValueError, match=re.escape(case.message)):
        copier.run_copy(
            str(template),
            destination,
            data=BASE_ANSWERS | case.overrides,
            defaults=True,
            unsafe=True,
            quiet=True,
        )

    assert not destination.exists()


def test_copy_keeps_an_existing_env(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "project"
    destination.mkdir()
    (destination / ".env").write_text("POSTGRES_PASSWORD=mine\n")

    copier.run_copy(
        str(template),
        destination,
        data=BASE_ANSWERS,
        defaults=True,
        unsafe=True,
        quiet=True,
    )

    assert (destination / ".env").read_text() == "POSTGRES_PASSWORD=mine\n"
    assert (destination / ".env.example").exists()


def render_without_tasks(
    template: Path, destination: Path, overrides: dict[str, str]
) -> dict[str, str]:
    """Render (no lock, no .env: only the answers matter here) and return the recorded answers."""
    copier.run_copy(
        str(template),
        destination,
        data=BASE_ANSWERS | overrides,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
    )
    recorded: dict[str, str] = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    return recorded


def test_names_at_the_40_character_limit_are_accepted(template: Path, tmp_path: Path) -> None:
    slug = "a" + "-bcd" * 9 + "-ef"  # 40 characters
    package = "p" * 40

    answers = render_without_tasks(
        template, tmp_path / "p", {"project_slug": slug, "package_name": package}
    )

    assert (len(answers["project_slug"]), len(answers["package_name"])) == (40, 40)
    assert (tmp_path / "p" / "src" / package / "about.py").exists()


def test_an_80_character_name_gets_a_short_valid_default_slug(
    template: Path, tmp_path: Path
) -> None:
    name = "Ticket Office Reservations and Refunds " + "Counter " * 4 + "Northwing"
    assert len(name) == 80  # the longest accepted

    answers = render_without_tasks(template, tmp_path / "p", {"project_name": name})

    # Cut at the last whole word within 40 characters, not mid-word.
    assert answers["project_slug"] == "ticket-office-reservations-and-refunds"
    assert answers["package_name"] == "ticket_office_reservations_and_refunds"


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Email", "email", "email_service"),
        ("Redis", "redis-service", "redis_service"),
        ("Docker", "docker-service", "docker_service"),
        ("Tests", "tests", "tests_service"),
        ("Smørrebrød Straße", "smorrebrod-strasse", "smorrebrod_strasse"),
    ],
    ids=["stdlib", "dependency", "transitive-dependency", "own-package", "unaccented-letters"],
)
def test_default_names_step_off_names_already_taken(
    template: Path, tmp_path: Path, name: str, slug: str, package: str
) -> None:
    answers = render_without_tasks(template, tmp_path / "p", {"project_name": name})

    assert (answers["project_slug"], answers["package_name"]) == (slug, package)


def test_jinja_and_shell_in_answers_land_literally(template: Path, tmp_path: Path) -> None:
    name = "{{ 7*7 }} {% raw %}$(touch pwned)`touch pwned2`"

    copier.run_copy(
        str(template),
        tmp_path / "p",
        data=BASE_ANSWERS | {"project_name": name, "project_slug": "literal"},
        defaults=True,
        unsafe=True,
        quiet=True,
    )

    about = (tmp_path / "p" / "src" / "literal" / "about.py").read_text()
    assert f'TITLE = "{name}"' in about
    assert list(tmp_path.rglob("pwned*")) == []
