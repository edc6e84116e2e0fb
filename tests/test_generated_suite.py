"""Each installable variant runs its own generated test suite on real services."""

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .conftest import ExternalServices, Project, RenderedFn, child_env
from .helpers import locked_versions
from .variants import DEFAULT, LOWEST, SUITES, Variant, ids


@pytest.mark.parametrize("variant", SUITES, ids=ids(SUITES))
def test_generated_suite_passes_on_real_services(
    installed: RenderedFn, request: pytest.FixtureRequest, variant: Variant
) -> None:
    project = installed(variant)
    env = child_env(TEST_SERVICES=variant.services, CI="true")
    if variant.services == "external":
        services: ExternalServices = request.getfixturevalue("external_services")
        env |= {"TEST_DATABASE_URL": services.database_url, "TEST_REDIS_URL": services.redis_url}

    # `slow or not slow`: the default run and the end-to-end tests, in one session.
    selection = ["-m", "slow or not slow"] if variant.slow_tests else []
    result = project.run(
        "uv", "run", "--locked", "pytest", "-p", "no:cacheprovider", *selection, env=env
    )

    # CI=true turns missing services into failures; also make sure tests really ran.
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, result.stdout
    assert " failed" not in summary, result.stdout
    assert " error" not in summary, result.stdout


def floors(project: Project) -> dict[str, Version]:
    """The lowest version each requirement of the service, its dev tools and devtools allows."""
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    devtools = tomllib.loads((project.path / "devtools/pyproject.toml").read_text())
    listed = [
        *pyproject["project"]["dependencies"],
        *pyproject["dependency-groups"]["dev"],
        *devtools["project"]["dependencies"],
    ]
    return {
        canonicalize_name(requirement.name): Version(specifier.version)
        for requirement in map(Requirement, listed)
        for specifier in requirement.specifier
        if specifier.operator == ">="
    }


@pytest.mark.parametrize("variant", LOWEST, ids=ids(LOWEST))
def test_the_floors_are_the_versions_the_checks_pass_on(
    installed: RenderedFn, variant: Variant
) -> None:
    # Its generated suite runs above, like every variant's; its lint and types run here.
    project = installed(variant)
    locked = locked_versions(project.path)

    # Each floor names a release line the lock holds (`>=3.6` may lock 3.6.1).
    off_the_floor = {
        name: f"floor {floor}, locked {locked[name]}"
        for name, floor in floors(project).items()
        if Version(locked[name]).release[: len(floor.release)] != floor.release
    }
    assert off_the_floor == {}
    project.run("uv", "run", "--locked", "ruff", "check", ".")
    project.run("uv", "run", "--locked", "ruff", "format", "--check", ".")
    project.run("uv", "run", "--locked", "mypy")


def test_the_slow_tests_run_with_each_answer_they_depend_on_both_ways() -> None:
    slow = [variant for variant in SUITES if variant.slow_tests]
    for answer in ("use_cache", "example_api"):
        assert {variant.answer(answer) for variant in slow} == {True, False}, answer
    assert {variant.services for variant in slow} >= {"docker", "embedded"}


def collected(project: Project, *args: str) -> set[str]:
    result = project.run(
        "uv", "run", "--locked", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args
    )
    return {line for line in result.stdout.splitlines() if "::" in line}


@pytest.mark.xdist_group("default")  # beside the default variant's checks: installed once
def test_quick_runs_leave_out_the_fault_tests_and_nothing_else(installed: RenderedFn) -> None:
    project = installed(DEFAULT)

    every = collected(project)
    faults = collected(project, "-m", "faults")
    quick = collected(project, "--quick")

    assert quick == every - faults
    assert quick, "a quick run still runs the other tests"
    # Fault injection and fuzzing, including the SIGTERM scenario, are what --quick leaves out.
    for module in ("test_database_faults", "test_cache_faults", "test_api_fuzz", "test_shutdown"):
        assert any(f"tests/{module}.py::" in test for test in faults), module
        assert not any(f"tests/{module}.py::" in test for test in quick), module
