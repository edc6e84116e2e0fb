"""Rendered projects, their virtual environments and the services the matrix needs, built once
per session and shared by every check."""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import plumbum
import pytest
import yaml

from .containers import Image, build_image, docker, name
from .helpers import devtools_servers, server_kinds
from .sharding import add_option, check_shards, select
from .variants import DEFAULT, Variant

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    variant: Variant
    path: Path
    # What copier wrote (tasks included), before any tool or test added caches and venvs.
    files: tuple[Path, ...]

    def run(
        self, *command: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; a failure shows the command's whole output."""
        return run(
            command, cwd=self.path, env=(env or child_env()) | self.variant.uv_env, timeout=timeout
        )

    @property
    def answers(self) -> dict[str, Any]:
        recorded: dict[str, Any] = yaml.safe_load((self.path / ".copier-answers.yml").read_text())
        return recorded

    @property
    def package(self) -> Path:
        return self.path / "src" / str(self.answers["package_name"])


def child_env(**extra: str) -> dict[str, str]:
    # Without VIRTUAL_ENV, uv uses the project's own venv rather than the template's. Without
    # PYTHONDONTWRITEBYTECODE (set on some CI machines), a project's processes write bytecode
    # into its venv, as on a user's machine: the generated suite's servers, `dev` runs and
    # replicas then reuse what the first process compiled (the default's suite took 97 s of CPU
    # without, 52 s with).
    unset = {"VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return env | extra


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )
    return result


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as the work tree has it (tracked and new files, not ignored ones), outside
    git: copier renders a plain folder as it is, where it would clone a repository on every copy.
    Only the update tests need versions (test_update.py)."""
    snapshot = tmp_path_factory.mktemp("template")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for path in filter(None, listed.decode().split("\0")):
        source = TEMPLATE_ROOT / path
        if source.is_file():  # a tracked file deleted in the work tree is not listed as gone
            (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / path)
    return snapshot


@pytest.fixture(scope="session")
def rendered(copie_session: Any, template: Path) -> Callable[[Variant], Project]:
    """The variant's project, rendered once per session on first use."""

    @cache
    def render(variant: Variant) -> Project:
        # A lock needs the variant's Python: where it is not here, uv would retry, with back-off,
        # a download that cannot succeed (then the lock hook warns and the copy goes on). Copier
        # runs its tasks in plumbum's copy of the environment, not in os.environ.
        retries = {} if variant.installable else {"UV_HTTP_RETRIES": "0"}
        with plumbum.local.env(**retries, **variant.uv_env):
            result = copie_session.copy(extra_answers=variant.answers, template_dir=template)
        if result.exception is not None:
            pytest.fail(f"copier copy of {variant.id} failed: {result.exception!r}", pytrace=False)
        root: Path = result.project_dir
        files = tuple(p.relative_to(root) for p in sorted(root.rglob("*")) if p.is_file())
        return Project(variant, root, files)

    return render


@pytest.fixture(scope="session")
def installed(rendered: Callable[[Variant], Project]) -> Callable[[Variant], Project]:
    """The variant's project with its own venv synced from its lock file, once per session."""

    @cache
    def install(variant: Variant) -> Project:
        project = rendered(variant)
        project.run("uv", "sync", "--locked")
        return project

    return install


RenderedFn = Callable[[Variant], Project]


@dataclass(frozen=True)
class ExternalServices:
    database_url: str
    redis_url: str


@pytest.fixture(scope="session")
def external_services(rendered: RenderedFn) -> Iterator[ExternalServices]:
    """Postgres and Redis containers, started with the default project's devtools.servers and
    handed to generated suites as URLs (the way CI `services:` would be), so the suites' `external`
    source stays proven."""
    servers = devtools_servers(rendered(DEFAULT).path)
    options = servers.Options(database="postgres")
    try:
        running = servers.start_together(
            [kind.starter("docker", options) for kind in server_kinds(with_redis=True)]
        )
    except servers.ServerError as error:
        pytest.fail(f"external services for the matrix did not start: {error}", pytrace=False)
    postgres, redis = running
    yield ExternalServices(postgres.url, redis.url)
    servers.close_all(running)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    check_shards(config)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    # Renders, image builds and compose stacks leave a core idle while they wait; a third worker
    # on two cores took the matrix from 347 s to 288 s.
    return (os.cpu_count() or 1) + 1


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    select(config, items)
    # All checks of one variant on one xdist worker: it is rendered and installed only once.
    for item in items:
        callspec = getattr(item, "callspec", None)
        variant = callspec.params.get("variant") if callspec else None
        if isinstance(variant, Variant):
            item.add_marker(pytest.mark.xdist_group(variant.id))


@pytest.fixture(scope="session")
def built_image(rendered: RenderedFn) -> Iterator[Callable[[Variant], Image]]:
    """The variant's production image, built once per session (its checks share one xdist
    worker) and removed at the session's end; tags are unique to the session."""
    built: list[Image] = []

    @cache
    def build(variant: Variant) -> Image:
        image = build_image(rendered(variant).path, f"{name(variant.id)}:test")
        built.append(image)
        return image

    yield build
    for image in built:
        docker("image", "rm", "--force", image.tag, check=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Numbers the tests measured (image size, build time, time to ready), for the notes and PRs.
    lines = sorted(
        str(value)
        for report in terminalreporter.stats.get("passed", [])
        for key, value in getattr(report, "user_properties", [])
        if key == "measured"
    )
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.line(line)
