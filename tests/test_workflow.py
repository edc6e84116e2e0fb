"""The template's own CI workflow is valid, safe, and runs the shards tests/sharding.py defines."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .releases import ROOT

WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def lint(*command: str) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}{result.stderr}"


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_there_is_a_workflow() -> None:
    assert [path.name for path in WORKFLOWS] == ["template.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_passes_actionlint_and_zizmor(path: Path) -> None:
    lint("actionlint", "-color=false", str(path))
    lint("zizmor", "--offline", "--no-progress", "--format", "plain", str(path))


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_pins_actions_and_keeps_the_token_read_only(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    # Only a pull request's older runs are cancelled: each commit on main keeps its own.
    assert workflow["concurrency"]["cancel-in-progress"] == (
        "${{ github.event_name == 'pull_request' }}"
    )
    for step in steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"not pinned to a commit: {step['uses']}"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_shard_jobs_come_from_the_matrix_command() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/template.yml").read_text())
    plan, shard = workflow["jobs"]["plan"], workflow["jobs"]["shard"]
    assert any("python -m tests.matrix" in step.get("run", "") for step in plan["steps"])
    assert shard["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    by_name = {step.get("name", step.get("uses", "")): step for step in shard["steps"]}
    assert by_name["Test the shard"]["run"] == 'uv run pytest --shard "$SHARD"'
    assert by_name["Test the shard"]["env"]["SHARD"] == "${{ matrix.shard }}"
    setup_uv = next(step for step in shard["steps"] if "setup-uv" in step.get("uses", ""))
    assert setup_uv["with"]["python-version"] == "${{ matrix.python }}"
    checkout = next(step for step in shard["steps"] if "checkout" in step.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == "${{ matrix.fetch-depth }}"
    assert shard["env"]["CI"] == "true"
