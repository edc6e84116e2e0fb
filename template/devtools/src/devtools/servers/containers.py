"""Containers through testcontainers: loopback ports, labels and volumes."""

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import ServerError, describe
from .processes import LOOPBACK, free_port

READINESS_POLL_SECONDS = 0.1

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer


def local_engine() -> bool:
    """A Docker on this machine: ports can be published on loopback only.

    A remote engine (DOCKER_HOST=tcp://..., e.g. CI's docker-in-docker) keeps Docker's default.
    """
    docker_host = os.environ.get("DOCKER_HOST", "")
    override = os.environ.get("TESTCONTAINERS_HOST_OVERRIDE") or os.environ.get("TC_HOST") or ""
    local = docker_host.startswith(("unix://", "npipe://")) or not docker_host
    return local and override in ("", "localhost", "127.0.0.1")


def publish(container: "DockerContainer", port: int) -> None:
    """Publish `port` on a free loopback port, never on every interface, or, on a remote engine,
    where Docker chooses."""
    if local_engine():
        ports: dict[str, Any] = container.ports
        ports[str(port)] = (LOOPBACK, free_port())


def address(container: "DockerContainer", port: int) -> tuple[str, int]:
    host = LOOPBACK if local_engine() else container.get_container_host_ip()
    return host, int(container.get_exposed_port(port))


def labelled(labels: dict[str, str]) -> dict[str, str]:
    """`labels` for every container started for a process, plus `<label>.pid` of that process."""
    return labels | {f"{name}.pid": str(os.getpid()) for name in labels}


def start(
    container: "DockerContainer",
    name: str,
    image_variable: str,
    prepare: Callable[[], None] | None = None,
) -> None:
    """Start the container; on failure remove it and say what to do."""
    from testcontainers.core.config import testcontainers_config

    if "TC_POOLING_INTERVAL" not in os.environ:
        # testcontainers polls readiness once a second: a server ready after 1.1 s waits for 2 s.
        testcontainers_config.sleep_time = READINESS_POLL_SECONDS
    try:
        if prepare is not None:
            prepare()
        container.start()
    except Exception as error:
        with contextlib.suppress(Exception):
            container.stop()
        reason = describe(error, innermost=False)  # docker's own message says the most
        fix = f"set {image_variable} to an image Docker has or can pull"
        if "ryuk" in reason:  # testcontainers' reaper, which removes containers if we are killed
            fix = "let Docker pull testcontainers/ryuk, or set TESTCONTAINERS_RYUK_DISABLED=true"
        raise ServerError(
            f"the {name} container ({container.image}) did not start: {reason}: {fix}, "
            "or use the embedded servers"
        ) from None


def short_id(container: "DockerContainer") -> str:
    return container.get_container_id()[:12]


def mount_volume(container: "DockerContainer", volume: str) -> None:
    """Mount `volume` where the image keeps its data (its declared VOLUME, else PGDATA's default).

    /var/lib/postgresql/data up to PostgreSQL 17, /var/lib/postgresql from 18: a volume anywhere
    else would leave the data in an anonymous volume, removed with the container.
    """
    import docker.errors

    images = container.get_docker_client().client.images
    try:
        image = images.get(container.image)
    except docker.errors.ImageNotFound:
        image = images.pull(container.image)
    declared = [
        path
        for path in image.attrs["Config"].get("Volumes") or {}
        if path.startswith("/var/lib/postgresql")
    ]
    path = declared[0] if len(declared) == 1 else "/var/lib/postgresql/data"
    container.with_volume_mapping(volume, path, "rw")
