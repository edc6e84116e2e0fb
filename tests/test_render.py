"""Every variant renders into a clean, lint-free, type-checked project with valid config files."""

import fcntl
import json
import os
import re
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from .conftest import RenderedFn, child_env
from .escaping import rendered_forms
from .variants import (
    BY_ID,
    COPIER_YML,
    DEFAULT,
    GITHUB,
    GITHUB_WORKFLOW,
    GITLAB,
    PYTHONS,
    VARIANTS,
    Variant,
    ids,
    questions,
)

# The names answers may not take (copier.yml's validators read it).
TAKEN_NAMES = COPIER_YML.parent / "hooks" / "taken_names.json"
# Jinja delimiters; `${{` is a GitHub Actions expression, and `}}` closes nested dicts in Python.
JINJA_LEFTOVER = re.compile(r"(?<!\$){{|{%|%}|{#")
# Files that legitimately contain these characters once rendered.
JINJA_ALLOWED = {Path("migrations/script.py.mako")}
SHARING = [variant for variant in VARIANTS if variant.same_project_as is not None]
# What a generated suite runs: the code, its tests and tooling, the migrations, the dependencies;
# and, with Docker, what builds and runs the image and the compose stack.
PROJECT_PARTS = ("src", "tests", "devtools", "migrations", "pyproject.toml", "alembic.ini")
DOCKER_PARTS = ("Dockerfile", "compose.yaml", ".dockerignore")


def without_answers(text: str, variant: Variant) -> str:
    """The text minus the answers it holds (in any escaped form): an answer may hold `{{ }}`."""
    for answer in variant.answers.values():
        if isinstance(answer, str):
            for form in sorted(rendered_forms(answer), key=len, reverse=True):
                text = text.replace(form, "")
    return text


def leftover(path: Path, project: Path, variant: Variant) -> str | None:
    """Where `path` still holds Jinja syntax, for people: the path, or its first such line."""
    if JINJA_LEFTOVER.search(str(path)) or path.suffix == ".jinja":
        return str(path)
    if path in JINJA_ALLOWED or path.name in {"uv.lock", ".copier-answers.yml"}:  # not templates
        return None
    lines = without_answers((project / path).read_text(), variant).splitlines()
    return next(
        (
            f"{path}:{number}: {line.strip()}"
            for number, line in enumerate(lines, start=1)
            if JINJA_LEFTOVER.search(line)
        ),
        None,
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_no_jinja_left_in_paths_or_files(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    leftovers = [
        found for path in project.files if (found := leftover(path, project.path, variant))
    ]
    assert leftovers == [], (
        "Jinja syntax left in the rendered project: a template bug, or, in a file that is no "
        "template (no .jinja suffix), code that looks like Jinja to this check, such as an "
        "f-string's `{{`. Fix the template, or add a file that needs it to JINJA_ALLOWED."
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_feature_files_follow_the_answers(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    package = project.package
    expected = {
        package / "cache.py": variant.answer("use_cache"),
        project.path / "tests/test_cache.py": variant.answer("use_cache"),
        package / "tickets/router.py": variant.answer("example_api"),
        project.path / "tests/test_tickets.py": variant.answer("example_api"),
        project.path / "Dockerfile": variant.answer("use_docker"),
        project.path / "devtools/src/devtools/servers/postgres.py": True,
        project.path / "devtools/src/devtools/servers/redis.py": variant.answer("use_cache"),
        project.path / "tests/fixtures/cache.py": variant.answer("use_cache"),
        package / "dev.py": False,
        project.path / "compose.yaml": variant.answer("use_docker"),
        project.path / GITHUB_WORKFLOW: variant.answer("ci_provider") == "github",
        project.path / ".gitlab-ci.yml": variant.answer("ci_provider") == "gitlab",
    }
    assert {str(path): path.exists() for path in expected} == {
        str(path): bool(wanted) for path, wanted in expected.items()
    }
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={variant.answer('python_version')}"
    uses_redis = any(dep.startswith("redis") for dep in pyproject["project"]["dependencies"])
    assert uses_redis == variant.answer("use_cache")


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_toml_and_yaml_files_parse(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    for path in project.files:
        text = (project.path / path).read_text()
        if path.suffix == ".toml" or path.name == "uv.lock":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_ruff_check_and_format_pass(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    project.run("ruff", "check", "--no-cache", ".")
    project.run("ruff", "format", "--check", "--no-cache", ".")


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for all variants and all xdist workers: third-party modules are checked once
    per target Python, not per variant or per worker; mypy re-checks any module whose source
    differs. In the session's base folder, which every worker shares and pytest empties."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
    cache = shared / "mypy-cache"
    cache.mkdir(exist_ok=True)
    return cache


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Held by one process at a time (other xdist workers wait)."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Code that type-checks for the oldest and the newest Python it may target does for those between:
# what a version in between removed, the newest lacks too, and the oldest has nothing added since.
# A variant for a version in between is linted, not type-checked again.
TYPE_CHECKED = [
    variant for variant in VARIANTS if variant.answer("python_version") in (PYTHONS[0], PYTHONS[-1])
]


@pytest.mark.parametrize("variant", TYPE_CHECKED, ids=ids(TYPE_CHECKED))
def test_strict_type_check_passes(
    installed: RenderedFn, rendered: RenderedFn, mypy_cache: Path, variant: Variant
) -> None:
    # Every variant is checked against the default project's venv, whose dependencies include
    # every variant's (the default has every feature): mypy's cache of the third-party packages
    # then serves all variants (about 2 s each instead of 25), and versions without an
    # interpreter here are checked too, mypy targeting their version. Each installable variant's
    # own venv runs its suite (test_generated_suite.py).
    project, host = rendered(variant), installed(DEFAULT)
    assert dependencies(project.path) <= dependencies(host.path)
    python = host.path / ".venv/bin/python"
    # mypy keeps one cache folder per target version; two runs must not write one at once.
    version = variant.answer("python_version")
    with exclusive(mypy_cache / f"{version}.lock"):
        project.run(
            str(host.path / ".venv/bin/mypy"),
            "--python-executable",
            str(python),
            env=child_env(MYPY_CACHE_DIR=str(mypy_cache)),
        )


def dependencies(project: Path) -> set[str]:
    """Third-party requirements of the project and of its devtools member (the member aside)."""
    found: set[str] = set()
    for path in (project / "pyproject.toml", project / "devtools/pyproject.toml"):
        pyproject = tomllib.loads(path.read_text())
        members = pyproject.get("tool", {}).get("uv", {}).get("sources", {})
        groups = pyproject.get("dependency-groups", {}).values()
        listed = [
            *pyproject["project"]["dependencies"],
            *(item for group in groups for item in group),
        ]
        found |= {item for item in listed if isinstance(item, str) and item not in members}
    return found


@pytest.mark.parametrize("variant", GITHUB, ids=ids(GITHUB))
def test_github_workflow_is_valid_and_passes_actionlint_and_zizmor(
    rendered: RenderedFn, variant: Variant
) -> None:
    project = rendered(variant)
    workflow = GITHUB_WORKFLOW
    project.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow)
    project.run("actionlint", workflow)
    project.run("zizmor", "--offline", "--no-progress", "--format", "plain", workflow)


@pytest.mark.parametrize("variant", GITLAB, ids=ids(GITLAB))
def test_gitlab_ci_is_valid(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    project.run("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml")


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_env_has_a_generated_secret_that_the_answers_file_lacks(
    rendered: RenderedFn, variant: Variant
) -> None:
    project = rendered(variant)
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    env = (project.path / ".env").read_text()
    password = re.search(r"^POSTGRES_PASSWORD=(.+)$", env, re.MULTILINE)

    assert password is not None
    assert password.group(1) != "change-me"
    assert len(password.group(1)) >= 24
    assert f":{password.group(1)}@" in env
    assert password.group(1) not in json.dumps(answers)
    assert {k: answers[k] for k in variant.answers} == variant.answers
    assert ".env" in (project.path / ".gitignore").read_text().splitlines()


DOCKER = [variant for variant in VARIANTS if variant.answer("use_docker")]


@pytest.mark.parametrize("variant", DOCKER, ids=ids(DOCKER))
def test_compose_file_is_valid(rendered: RenderedFn, variant: Variant) -> None:
    rendered(variant).run(
        "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml"
    )


@pytest.mark.parametrize("variant", DOCKER, ids=ids(DOCKER))
def test_compose_lets_requests_in_flight_finish_before_it_kills_the_app(
    rendered: RenderedFn, variant: Variant
) -> None:
    project = rendered(variant).path
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    lines = (project / ".env.example").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")
    on_sigterm = float(settings["SHUTDOWN_DELAY_SECONDS"]) + float(
        settings["SHUTDOWN_GRACE_SECONDS"]
    )

    grace = compose["services"]["app"]["stop_grace_period"]

    assert re.fullmatch(r"\d+s", grace)
    assert int(grace[:-1]) >= on_sigterm + 5  # and a few seconds to close the connections


@pytest.mark.xdist_group("default")  # beside the default variant's checks: installed once
def test_every_name_the_project_installs_is_refused_as_an_answer(installed: RenderedFn) -> None:
    # The default project has every feature, so its dependencies are every variant's (checked by
    # test_strict_type_check_passes); copier.yml's validators refuse what hooks/taken_names.json
    # lists, so it must list all of them.
    project = installed(DEFAULT)
    taken = json.loads(TAKEN_NAMES.read_text())
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    slug = yaml.safe_load((project.path / ".copier-answers.yml").read_text())["project_slug"]
    own = {slug, f"{slug}-devtools"}
    locked = {re.sub(r"[-_.]+", "-", package["name"]).lower() for package in lock["package"]}
    listing = (
        "import importlib.metadata as m, json; print(json.dumps(list(m.packages_distributions())))"
    )
    found = json.loads(project.run(".venv/bin/python", "-c", listing).stdout)
    modules = {name for name in found if re.fullmatch(r"[a-z_][a-z0-9_]*", name)}

    missing = {
        "distributions": sorted(locked - own - set(taken["distributions"])),
        "modules": sorted(modules - set(taken["modules"])),
    }
    assert not any(missing.values()), f"add to {TAKEN_NAMES}: {missing}"


@pytest.mark.xdist_group("default")  # beside the default variant's checks: installed once
def test_the_service_wheel_holds_no_dev_tooling(installed: RenderedFn, tmp_path: Path) -> None:
    project = installed(DEFAULT)
    project.run("uv", "build", "--wheel", "--out-dir", str(tmp_path))
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = [name for name in names if name.endswith("entry_points.txt")]
        scripts = "".join(archive.read(name).decode() for name in entry_points)
    assert [name for name in names if "devtools" in name or name.endswith("/dev.py")] == []
    assert "dev" not in scripts
    assert all(name.startswith(project.package.name) or ".dist-info/" in name for name in names)


@pytest.mark.parametrize("variant", SHARING, ids=ids(SHARING))
def test_a_variant_without_a_suite_renders_the_project_whose_suite_runs(
    rendered: RenderedFn, variant: Variant
) -> None:
    assert variant.same_project_as is not None
    covering = BY_ID[variant.same_project_as]
    assert covering.same_project_as is None  # that one does run its suite
    assert variant.services == covering.services
    ours, theirs = rendered(variant), rendered(covering)

    parts = PROJECT_PARTS + (DOCKER_PARTS if variant.answer("use_docker") else ())

    def project_files(files: tuple[Path, ...]) -> list[Path]:
        return [path for path in files if path.parts[0] in parts]

    advice = (
        f"{variant.id} renders the project differently from {covering.id}, whose suite it relies "
        f"on: drop its `same_project_as` (its own suite then runs), or keep the difference out "
        f"of {', '.join(parts)}"
    )
    assert project_files(ours.files) == project_files(theirs.files), advice
    for path in project_files(ours.files):
        assert (ours.path / path).read_bytes() == (theirs.path / path).read_bytes(), (
            f"{path}: {advice}"
        )


def test_every_choice_and_switch_is_rendered_by_some_variant() -> None:
    # A question (or a choice) no variant answers is rendered by no test.
    offered = {
        name: question.get("choices", [True, False])
        for name, question in questions().items()
        if "choices" in question or question.get("type") == "bool"
    }
    # Choices are a list of values or a mapping of labels to values.
    offered = {
        name: list(values.values()) if isinstance(values, dict) else values
        for name, values in offered.items()
    }
    unrendered = [
        f"{name}={value!r}"
        for name, values in offered.items()
        for value in values
        if not any(variant.answer(name) == value for variant in VARIANTS)
    ]
    assert unrendered == [], "add a Variant to tests/variants.py that answers each of these"
