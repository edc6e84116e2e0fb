"""The template's test matrix, as data: one base answer set, overrides with readable ids, and
answers that must be rejected. Every check in this folder runs over these same lists."""

import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

COPIER_YML = Path(__file__).resolve().parent.parent / "copier.yml"

BASE_ANSWERS: dict[str, Any] = {
    "project_name": "Ticket Office",
    "description": "Sells tickets, never twice",
    "author_name": "Backend Team",
    "author_email": "team@example.com",
}

WORST_CASE_NAME = (
    'Bob\'s "Best" \\ {{ 7*7 }} {% raw %}$(rm -rf ~)`id` BoxOfficeAPI Go 🎟️ تذاكر Cafe\u0301'
)
# The only Python this machine has; other versions are rendered and checked statically, and CI
# runs their suites on runners that have them (.github/workflows/template.yml).
INSTALLABLE_PYTHON = "3.11"


@cache
def python_available(version: str) -> bool:
    """uv finds an interpreter for `version` here (never downloading one)."""
    found = subprocess.run(
        ["uv", "python", "find", "--no-python-downloads", version],
        capture_output=True,
        check=False,
    )
    return found.returncode == 0


@dataclass(frozen=True, eq=False)  # identity hash: each variant is rendered once per session
class Variant:
    id: str
    overrides: dict[str, Any] = field(default_factory=dict)
    # Where the generated suite gets Postgres and Redis from (TEST_SERVICES: external, docker or
    # embedded; devtools/src/devtools/servers in the project).
    services: str = "docker"
    # A variant that renders the same project (code, tests, dev tooling, migrations, pyproject,
    # and the Docker files if any) and runs it on the same services: its generated suite, image
    # and compose stack cover this one, which renders, lints and type-checks but runs none of
    # them again. test_render.py checks that the two renderings agree.
    same_project_as: str | None = None
    # Also run the generated suite's `slow` tests (dev end to end, every server source, replicas).
    # Only use_cache, example_api and the server source change what they run, so two variants
    # that differ in all three cover them: `default` (docker, cache, API) and `bare` (embedded,
    # neither).
    slow_tests: bool = False
    # Also build its production image, check what it holds, and bring its compose stack up and
    # down. Image and stack change only with use_cache, example_api and the names they hold:
    # `default`, `bare` (neither) and `worst-case-answers` (hostile names) cover them. Every
    # Docker variant's Dockerfile is still linted and its build context checked.
    builds_image: bool = False
    # Lock the lowest version each direct requirement allows (uv's `lowest-direct`), so the
    # floors in pyproject.toml are versions the suite, ruff and mypy pass on, not guesses.
    lowest_versions: bool = False

    @property
    def uv_env(self) -> dict[str, str]:
        """What every uv command in the project needs (a lock's resolution mode is checked by
        `--locked`)."""
        return {"UV_RESOLUTION": "lowest-direct"} if self.lowest_versions else {}

    @property
    def answers(self) -> dict[str, Any]:
        return BASE_ANSWERS | self.overrides

    def answer(self, name: str) -> Any:
        """The answer copier records: the override, else copier.yml's (non-templated) default."""
        return self.answers.get(name, question_defaults().get(name))

    @property
    def installable(self) -> bool:
        return python_available(str(self.answer("python_version")))


VARIANTS = [
    Variant("default", slow_tests=True, builds_image=True),
    Variant("no-cache", {"use_cache": False}),
    Variant("no-example-api", {"example_api": False}, services="external"),
    Variant(
        "bare",
        {"use_cache": False, "example_api": False},
        services="embedded",
        slow_tests=True,
        builds_image=True,
    ),
    # The default's project, locked at the floors its pyproject.toml names.
    Variant("lowest-versions", services="external", lowest_versions=True),
    Variant("gitlab", {"ci_provider": "gitlab"}, same_project_as="default"),
    Variant("no-ci", {"ci_provider": "none"}, same_project_as="default"),
    Variant("no-docker", {"use_docker": False}, same_project_as="default"),
    Variant("kubernetes", {"deploy_kubernetes": True}, same_project_as="default"),
    Variant(
        "own-names",
        {"project_name": "Café Orders", "package_name": "orders_api", "cache_ttl_seconds": 5},
        services="external",
    ),
    # The longest accepted name, full of what breaks naive templating: quotes, a backslash, Jinja,
    # shell, an emoji, right-to-left text, a combining accent. Its default slug and package name
    # are cut to exactly the 40-character limit.
    Variant(
        "worst-case-answers",
        {
            "project_name": WORST_CASE_NAME,
            "description": 'Sells "tickets" from C:\\queue\\ {{ 7*7 }} $(id) ',
            "author_name": 'O\'Brien "Ops" C:\\queue',
            "author_email": "o'brien+ops@example.com",
        },
        services="embedded",
        builds_image=True,
    ),
    Variant("python-3.12", {"python_version": "3.12"}),
    Variant("python-3.13", {"python_version": "3.13"}),
]


@cache
def questions() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COPIER_YML.read_text())
    return {name: question for name, question in loaded.items() if isinstance(question, dict)}


@cache
def question_defaults() -> dict[str, Any]:
    return {
        name: question["default"] for name, question in questions().items() if "default" in question
    }


DEFAULT = VARIANTS[0]
# The Python versions a project may target, oldest first (copier.yml's choices).
PYTHONS: list[str] = questions()["python_version"]["choices"]
INSTALLABLE = [variant for variant in VARIANTS if variant.installable]
# Each distinct project runs its generated suite once.
SUITES = [variant for variant in INSTALLABLE if variant.same_project_as is None]
LOWEST = [variant for variant in SUITES if variant.lowest_versions]
BY_ID = {variant.id: variant for variant in VARIANTS}
GITHUB = [variant for variant in VARIANTS if variant.answer("ci_provider") == "github"]
GITLAB = [variant for variant in VARIANTS if variant.answer("ci_provider") == "gitlab"]
GITHUB_WORKFLOW = ".github/workflows/ci.yml"  # in a rendered project
# Images built and run (their compose stacks too): base images exist here only for the machine's
# Python (stand-ins, no registry).
IMAGES = [
    variant for variant in INSTALLABLE if variant.answer("use_docker") and variant.builds_image
]


def ids(variants: list[Variant]) -> list[str]:
    """Test ids for a parametrization over `variants`."""
    return [variant.id for variant in variants]


@dataclass(frozen=True)
class Rejected:
    id: str
    overrides: dict[str, Any]
    message: str  # part of the validator's message: it names the problem and the fix


REJECTED = [
    Rejected("empty-name", {"project_name": "   "}, "project_name must not be empty"),
    Rejected("long-name", {"project_name": "x" * 81}, "keep it to 80 or fewer"),
    Rejected("slug-uppercase", {"project_slug": "Ticket-Office"}, "not a valid distribution name"),
    Rejected("package-keyword", {"package_name": "class"}, "is a Python keyword"),
    Rejected("package-soft-keyword", {"package_name": "match"}, "is a Python keyword"),
    Rejected("package-stdlib", {"package_name": "json"}, "shadows the standard library"),
    Rejected("package-dash", {"package_name": "ticket-office"}, "is not a Python identifier"),
    Rejected("package-digit", {"package_name": "1tickets"}, "is not a Python identifier"),
    Rejected("bad-email", {"author_email": "team-at-example"}, "is not an email address"),
    Rejected("empty-author", {"author_name": ""}, "author_name must not be empty"),
    Rejected("unknown-ci", {"ci_provider": "jenkins"}, "'jenkins' is not in"),
    Rejected("unknown-python", {"python_version": "3.10"}, "'3.10' is not in"),
    Rejected("name-tab", {"project_name": "Ticket\tOffice"}, "a control character (U+0009)"),
    Rejected("name-newline", {"project_name": "Ticket\nOffice"}, "a line break (U+000A)"),
    Rejected("description-line-separator", {"description": "a\u2028b"}, "a line break (U+2028)"),
    Rejected("author-lone-surrogate", {"author_name": "Bob \ud800"}, "a lone surrogate (U+D800)"),
    Rejected("name-without-letters", {"project_name": "🎟️ 2048"}, "project_slug is empty"),
    Rejected("slug-41-chars", {"project_slug": "a" * 41}, "keep it to 40 or fewer"),
    Rejected("package-41-chars", {"package_name": "a" * 41}, "keep it to 40 or fewer"),
    Rejected("email-quote", {"author_email": 'a"b@example.com'}, "is not an email address"),
    Rejected("email-double-dot", {"author_email": "a..b@example.com"}, "is not an email address"),
    Rejected("zero-ttl", {"cache_ttl_seconds": 0}, "use a number of seconds from 1 to 86400"),
    Rejected("slug-of-a-dependency", {"project_slug": "redis"}, "a package the project depends on"),
    Rejected("slug-of-docker-py", {"project_slug": "docker"}, "a package the project depends on"),
    Rejected(
        "package-of-a-dependency", {"package_name": "fastapi"}, "the import name of a package"
    ),
    Rejected(
        "package-of-a-transitive-dependency",
        {"package_name": "yaml"},
        "the import name of a package",
    ),
    Rejected("package-tests", {"package_name": "tests"}, "is the project's tests/ package"),
    Rejected(
        "package-devtools", {"package_name": "devtools"}, "is the project's dev tooling package"
    ),
]
