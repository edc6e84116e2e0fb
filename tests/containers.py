"""Docker for the template's tests: build a rendered project's image, run containers on a private
network, call the service over HTTP, and remove exactly what this session created."""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Debian's client: the `docker` first on some PATHs lacks buildx, and the Dockerfile needs BuildKit.
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
# Everything this session creates carries this prefix, so cleanup removes ours and nobody else's.
SESSION = f"tpl-{uuid.uuid4().hex[:8]}"
POSTGRES_IMAGE = os.environ.get("TEST_POSTGRES_IMAGE", "postgres:17-alpine")
REDIS_IMAGE = os.environ.get("TEST_REDIS_IMAGE", "redis:7-alpine")


def docker(
    *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return command([DOCKER, *args], check=check, timeout=timeout, env=env)


def command(
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with check, a failure shows its whole output."""
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )
    return result


def name(*parts: str) -> str:
    return "-".join([SESSION, *parts])


@dataclass(frozen=True)
class Image:
    tag: str
    build_seconds: float
    size_bytes: int
    user: str


def build_image(context: Path, tag: str) -> Image:
    """`docker build` with BuildKit (cache mounts) and the layer cache, as a user runs it."""
    env = os.environ | {"DOCKER_BUILDKIT": "1"}
    started = time.monotonic()
    docker("build", "--quiet", "--tag", tag, str(context), env=env, timeout=900)
    seconds = time.monotonic() - started
    inspected = json.loads(docker("image", "inspect", tag).stdout)[0]
    return Image(tag, seconds, inspected["Size"], inspected["Config"]["User"])


def context_listing(context: Path) -> set[str]:
    """The files `docker build` sends for this context after .dockerignore, as paths relative to it:
    a throwaway build copies the whole context into an empty stage and exports it."""
    out = Path(context.parent / f"{context.name}-context")
    env = os.environ | {"DOCKER_BUILDKIT": "1"}
    try:
        subprocess.run(
            [DOCKER, "build", "--file", "-", "--output", f"type=local,dest={out}", str(context)],
            input="FROM scratch\nCOPY . /\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        return {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


@dataclass
class Cleanup:
    """Names and ids of what a test created, removed in reverse order of creation."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def remove(self) -> None:
        for container in reversed(self.containers):
            docker("rm", "--force", "--volumes", container, check=False)
        for network in reversed(self.networks):
            docker("network", "rm", network, check=False)
        for image in reversed(self.images):
            docker("image", "rm", "--force", image, check=False)


@contextmanager
def cleanup() -> Iterator[Cleanup]:
    created = Cleanup()
    try:
        yield created
    finally:
        created.remove()


def start(created: Cleanup, *args: str) -> str:
    """`docker run --detach`, remembering the container for removal."""
    container = docker("run", "--detach", *args).stdout.strip()
    created.containers.append(container)
    return container


def wait_until(what: str, seconds: float, ready: Any) -> float:
    """Poll `ready()` until it is true; return how long it took."""
    started = time.monotonic()
    while not ready():
        if time.monotonic() - started > seconds:
            pytest.fail(f"{what} not within {seconds:g} s", pytrace=False)
        time.sleep(0.25)
    return time.monotonic() - started


def start_postgres(created: Cleanup, network: str, alias: str, password: str) -> str:
    container = start(
        created,
        "--network", network, "--network-alias", alias,
        "--env", "POSTGRES_USER=app", "--env", f"POSTGRES_PASSWORD={password}",
        "--env", "POSTGRES_DB=app",
        POSTGRES_IMAGE,
    )  # fmt: skip
    # Over TCP: the entrypoint's first, initialising server listens on the socket only.
    ready = ["exec", container, "pg_isready", "--host", "127.0.0.1", "-U", "app", "-d", "app"]
    wait_until("Postgres accepting connections", 60, lambda: accepts(ready))
    return container


def accepts(exec_command: list[str]) -> bool:
    return docker(*exec_command, check=False).returncode == 0


def start_redis(created: Cleanup, network: str, alias: str) -> str:
    container = start(created, "--network", network, "--network-alias", alias, REDIS_IMAGE)
    wait_until(
        "Redis answering",
        60,
        lambda: "PONG" in docker("exec", container, "redis-cli", "ping", check=False).stdout,
    )
    return container


def host_port(container: str, port: int) -> int:
    published = docker("port", container, f"{port}/tcp").stdout.split()[0]
    return int(published.rsplit(":", 1)[1])


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One JSON request; the status and decoded body, also for 4xx/5xx answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def answers_ok(url: str) -> bool:
    try:
        return http("GET", url)[0] == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def ticket_round_trip(base_url: str) -> None:
    """Create, read and buy a ticket through the API, then buy it again: sold once only."""
    status, created = http("POST", f"{base_url}/tickets", {"event": "Gala", "price_cents": 4200})
    assert status == 201, created
    ticket = f"{base_url}/tickets/{created['id']}"
    assert http("GET", ticket) == (200, created)

    status, sold = http("POST", f"{ticket}/buy", {"buyer": "Ada"})
    assert status == 200, sold
    assert sold["buyer"] == "Ada"
    assert http("GET", ticket) == (200, sold)
    assert http("POST", f"{ticket}/buy", {"buyer": "Bob"})[0] == 409
