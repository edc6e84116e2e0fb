"""Each installable variant runs its own generated test suite on real services."""

import pytest

from .conftest import ExternalServices, RenderedFn, child_env
from .variants import SUITES, Variant, ids


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


def test_the_slow_tests_run_with_each_answer_they_depend_on_both_ways() -> None:
    slow = [variant for variant in SUITES if variant.slow_tests]
    for answer in ("use_cache", "example_api"):
        assert {variant.answer(answer) for variant in slow} == {True, False}, answer
    assert {variant.services for variant in slow} >= {"docker", "embedded"}
