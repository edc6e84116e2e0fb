"""Each Docker variant's compose stack, as a user runs it: up healthy with the migrations run once
before the app, on a read-only root filesystem; the app serves a round trip and stops cleanly on
SIGTERM; a failing migration keeps the app from starting; and `down -v` leaves nothing."""

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import RenderedFn
from .containers import (
    Image,
    answers_ok,
    command,
    docker,
    name,
    ticket_round_trip,
)
from .variants import BASE_ANSWERS, IMAGES, WORST_CASE_NAME, Variant, ids

BuiltImageFn = Callable[[Variant], Image]
LABEL = "com.docker.compose.project"


class Stack:
    """`docker compose` on one project directory under a project name of this session's own."""

    def __init__(
        self, directory: Path, project: str, image: str, overrides: tuple[Path, ...] = ()
    ) -> None:
        self.directory = directory
        self.project = project
        # Files merged over the project's compose.yaml, as a user's compose.override.yaml is.
        self.files = [arg for file in ["compose.yaml", *overrides] for arg in ("--file", str(file))]
        # The image built beforehand (this compose cannot build); port 0: any free host port.
        ports = {"APP_PORT": "0", "POSTGRES_PORT": "0", "REDIS_PORT": "0"}
        self.env = os.environ | {"APP_IMAGE": image} | ports

    def published(self, service: str, port: int) -> tuple[str, int]:
        """The host address `service`'s `port` is published on."""
        host, _, published = self.compose("port", service, str(port)).stdout.strip().rpartition(":")
        return host, int(published)

    def compose(self, *args: str, check: bool = True) -> Any:
        compose = shutil.which("docker-compose") or "docker-compose"
        return command(
            [compose, "--project-name", self.project, *self.files, *args],
            cwd=self.directory,
            env=self.env,
            check=check,
            timeout=300,
        )

    def container(self, service: str) -> dict[str, Any]:
        (container,) = self.compose("ps", "--all", "--quiet", service).stdout.split()
        inspected: dict[str, Any] = json.loads(docker("inspect", container).stdout)[0]
        return inspected

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label={LABEL}={self.project}"
        return {
            "containers": docker("ps", "--all", "--quiet", "--filter", label).stdout.split(),
            "volumes": docker("volume", "ls", "--quiet", "--filter", label).stdout.split(),
            "networks": docker("network", "ls", "--quiet", "--filter", label).stdout.split(),
        }


@contextmanager
def stack(
    directory: Path, variant: Variant, image: str, overrides: tuple[Path, ...] = ()
) -> Iterator[Stack]:
    """A stack that is always taken down with its volumes, and must leave nothing behind."""
    running = Stack(directory, name(variant.id, "compose"), image, overrides)
    try:
        yield running
    finally:
        running.compose("down", "--volumes", "--remove-orphans", "--timeout", "20")
    assert running.leftovers() == {"containers": [], "volumes": [], "networks": []}


@pytest.mark.parametrize("variant", IMAGES, ids=ids(IMAGES))
def test_stack_comes_up_healthy_after_one_migration_and_goes_down_without_a_trace(
    built_image: BuiltImageFn,
    rendered: RenderedFn,
    record_property: Callable[[str, object], None],
    variant: Variant,
) -> None:
    project = rendered(variant)
    with stack(project.path, variant, built_image(variant).tag) as running:
        started = time.monotonic()
        running.compose("up", "--no-build", "--detach", "--wait", "--wait-timeout", "120")
        record_property(
            "measured", f"{variant.id}: compose up --wait {time.monotonic() - started:.1f} s"
        )

        migrate, app = running.container("migrate"), running.container("app")
        assert (migrate["State"]["ExitCode"], migrate["RestartCount"]) == (0, 0)
        migrated = datetime.fromisoformat(migrate["State"]["FinishedAt"])
        assert migrated <= datetime.fromisoformat(app["State"]["StartedAt"])
        assert app["State"]["Health"]["Status"] == "healthy"
        database = project.answers["package_name"]
        versions = running.compose(
            "exec", "-T", "postgres",
            "psql", "-U", "app", "-d", database, "-tAc", "SELECT version_num FROM alembic_version",
        ).stdout.split()  # fmt: skip
        assert versions == ["0001"]

        assert migrate["HostConfig"]["ReadonlyRootfs"]
        assert app["HostConfig"]["ReadonlyRootfs"]
        host, port = running.published("app", 8000)
        base_url = f"http://{host}:{port}"
        assert answers_ok(f"{base_url}/health/ready")
        if variant.answer("example_api"):
            ticket_round_trip(base_url)

        # The servers are published on loopback, where `.env`'s URLs point.
        servers = [("postgres", 5432)] + ([("redis", 6379)] if variant.answer("use_cache") else [])
        for service, server_port in servers:
            address = running.published(service, server_port)
            assert address[0] == "127.0.0.1", address
            socket.create_connection(address, timeout=5).close()

        # SIGTERM (what `docker stop` and Kubernetes send) ends the server cleanly, well in time.
        running.compose("stop", "--timeout", "20", "app")
        state = running.container("app")["State"]
        assert (state["ExitCode"], state["OOMKilled"]) == (0, False)


BROKEN_MIGRATION = '''"""A migration that fails."""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("SELECT no_such_column_broken_on_purpose FROM alembic_version")
'''


@pytest.mark.parametrize("variant", IMAGES[:1], ids=[IMAGES[0].id])
def test_failing_migration_keeps_the_app_from_starting(
    built_image: BuiltImageFn, rendered: RenderedFn, tmp_path: Path, variant: Variant
) -> None:
    # The variant's image with one more migration mounted in, one that fails.
    broken = tmp_path / "0002_broken.py"
    broken.write_text(BROKEN_MIGRATION)
    override = tmp_path / "broken-migration.yaml"
    target = "/app/migrations/versions/0002_broken.py"
    override.write_text(
        yaml.safe_dump({"services": {"migrate": {"volumes": [f"{broken}:{target}:ro"]}}})
    )
    project = rendered(variant).path
    with stack(project, variant, built_image(variant).tag, (override,)) as running:
        up = running.compose(
            "up", "--no-build", "--detach", "--wait", "--wait-timeout", "120", check=False
        )
        assert up.returncode != 0, up.stdout + up.stderr

        migrate, app = running.container("migrate"), running.container("app")
        assert migrate["State"]["ExitCode"] != 0
        logs = running.compose("logs", "migrate").stdout
        assert "no_such_column_broken_on_purpose" in logs
        assert app["State"]["Status"] == "created"
        assert app["State"]["StartedAt"].startswith("0001-01-01")


def test_the_stacks_cover_each_answer_the_stack_depends_on_both_ways() -> None:
    for answer in ("use_cache", "example_api"):
        assert {variant.answer(answer) for variant in IMAGES} == {True, False}, answer
    assert {variant.answer("project_name") for variant in IMAGES} >= {
        BASE_ANSWERS["project_name"],
        WORST_CASE_NAME,
    }
