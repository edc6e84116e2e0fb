"""Helpers the template's tests (and benchmarks) share; fixtures are in conftest.py."""

import importlib
import sys
from pathlib import Path
from typing import Any


def devtools_servers(project: Path, module: str = "") -> Any:
    """A rendered project's `devtools.servers` (or its `module`): the one way the template starts
    a server. Imported from the project's files into this interpreter; starting containers needs
    only the standard library and testcontainers, both here."""
    source = str(project / "devtools" / "src")
    if source not in sys.path:
        sys.path.insert(0, source)
    return importlib.import_module(".".join(filter(None, ["devtools.servers", module])))


def server_kinds(with_redis: bool) -> list[Any]:
    """POSTGRES (and REDIS) of the devtools.servers imported last by devtools_servers()."""
    kinds = [importlib.import_module("devtools.servers.postgres").POSTGRES]
    if with_redis:
        kinds.append(importlib.import_module("devtools.servers.redis").REDIS)
    return kinds


def free_port(project: Path) -> int:
    port: int = devtools_servers(project, "processes").free_port()
    return port
