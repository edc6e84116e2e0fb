"""The default project as a user runs it: Alembic's CLI migrates a real Postgres, uvicorn serves
the app factory, and /health/ready answers 200 on real Postgres and Redis."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import ExternalServices, RenderedFn, child_env
from .helpers import free_port
from .variants import DEFAULT


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.xdist_group("default")  # beside the default variant's checks: installed once
def test_default_project_migrates_and_is_ready(
    installed: RenderedFn, external_services: ExternalServices
) -> None:
    project = installed(DEFAULT)
    env = child_env(
        DATABASE_URL=external_services.database_url,
        REDIS_URL=external_services.redis_url,
    )
    migrated = project.run("uv", "run", "--locked", "alembic", "upgrade", "head", env=env)
    assert "Running upgrade  -> 0001" in migrated.stderr

    port = free_port(project.path)
    server = subprocess.Popen(
        [
            "uv",
            "run",
            "--locked",
            "uvicorn",
            "--factory",
            f"{project.answers['package_name']}.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = get_json(f"http://127.0.0.1:{port}/health/ready")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, "uvicorn exited early"
                assert time.monotonic() < deadline, "uvicorn did not answer within 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)

    assert (status, body) == (
        200,
        {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}},
    ), output
