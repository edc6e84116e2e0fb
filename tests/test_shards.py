"""The CI shards partition the suite: every collected test runs in exactly one job, also after a
variant is added to tests/variants.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .releases import ROOT
from .sharding import NAMED, matrix, shard_names
from .variants import VARIANTS, Variant

ADDED = Variant("added-later", {"use_docker": False, "ci_provider": "none"})

# Loaded with -p in a collect-only run: adds a variant the way a maintainer would, then reports
# every collected test and each shard's selection.
PROBE = f"""
import json, os
from pathlib import Path
from tests.variants import VARIANTS, Variant
VARIANTS.append(Variant({ADDED.id!r}, {ADDED.overrides!r}))
from tests.sharding import selected, shard_names

def pytest_collection_finish(session):
    report = {{name: [i.nodeid for i in selected(session.items, [name])] for name in shard_names()}}
    Path(os.environ["SHARD_REPORT"]).write_text(
        json.dumps({{"all": [i.nodeid for i in session.items], "shards": report}})
    )
"""


def collect(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def node_ids(output: str) -> set[str]:
    return {line for line in output.splitlines() if "::" in line}


def test_shards_partition_the_suite_with_a_variant_added(tmp_path: Path) -> None:
    (tmp_path / "shard_probe.py").write_text(PROBE)
    report_file = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{tmp_path}", "SHARD_REPORT": str(report_file)}
    probe = collect("-p", "shard_probe", env=env)
    # The command-line path CI uses, on the unchanged suite, for a variant and a named shard.
    by_option = collect("--shard", VARIANTS[0].id, "--shard", "update")
    outputs = [process.communicate(timeout=120) for process in (probe, by_option)]
    for process, (out, err) in zip((probe, by_option), outputs, strict=True):
        assert process.returncode == 0, out + err
    option_ids = node_ids(outputs[1][0])

    report = json.loads(report_file.read_text())
    everything, shards = set(report["all"]), report["shards"]
    assert shards.get(ADDED.id), "the added variant got no shard of its own"
    assigned = [node for nodes in shards.values() for node in nodes]
    assert len(assigned) == len(set(assigned)), "a test is in two shards"
    assert set(assigned) == everything, f"tests in no shard: {everything - set(assigned)}"
    assert option_ids == set(shards[VARIANTS[0].id]) | set(shards["update"])
    assert option_ids


def test_the_ci_matrix_has_a_job_per_shard_and_follows_added_variants() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "tests.matrix"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    jobs = json.loads(printed.stdout)["include"]
    assert [job["shard"] for job in jobs] == shard_names()
    assert [job["shard"] for job in matrix([*VARIANTS, ADDED])] == shard_names([*VARIANTS, ADDED])
    assert ADDED.id in shard_names([*VARIANTS, ADDED])
    history = {job["shard"] for job in jobs if job["fetch-depth"] == 0}
    assert history == {named.name for named in NAMED if named.history}


def test_every_python_the_template_offers_gets_a_job() -> None:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    offered = set(questions["python_version"]["choices"])
    assert {job["python"] for job in matrix()} == offered


def test_an_unknown_shard_is_refused_by_name_before_workers_start(tmp_path: Path) -> None:
    # Refused while xdist's workers collect, the message would end as an internal error.
    refused = subprocess.run(
        [sys.executable, "-m", "pytest", "--shard", "nope", "-n", "2", f"--basetemp={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = refused.stdout + refused.stderr

    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"unknown shard nope: use one of {', '.join(shard_names())}" in output
    assert "INTERNALERROR" not in output
