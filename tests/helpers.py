"""Helpers the template's tests (and benchmarks) share; fixtures are in conftest.py."""

import importlib
import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

HOOKS = Path(__file__).resolve().parent.parent / "hooks"


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


def load_hook(relative_path: str) -> ModuleType:
    """A module of hooks/ (copier runs them as scripts; they are no package), for its functions."""
    spec = importlib.util.spec_from_file_location(Path(relative_path).stem, HOOKS / relative_path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def locked_versions(project: Path) -> dict[str, str]:
    """Package -> the version the project's uv.lock holds ("" for one without, as a virtual
    project)."""
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {package["name"]: package.get("version", "") for package in lock["package"]}


def free_port(project: Path) -> int:
    port: int = devtools_servers(project, "processes").free_port()
    return port
