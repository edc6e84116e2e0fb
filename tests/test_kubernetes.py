"""The Kubernetes option: kustomize manifests that validate for a stated Kubernetes version, roll
out without losing capacity, run locked down, keep secrets by reference, and run the real image."""

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from .conftest import Project, RenderedFn
from .containers import (
    Image,
    answers_ok,
    cleanup,
    command,
    docker,
    host_port,
    name,
    start,
    start_postgres,
    start_redis,
    wait_until,
)
from .variants import BASE_ANSWERS, VARIANTS, Variant, ids

# The oldest release the manifests promise to work on (README, "Kubernetes"); kubernetes-validate
# ships its schemas, so this runs offline.
KUBERNETES_VERSION = "1.34.0"
KUBERNETES = [variant for variant in VARIANTS if variant.answer("deploy_kubernetes")]
BuiltImageFn = Callable[[Variant], Image]
# Postgres' default max_connections, which the pods' pools must stay under at full scale.
POSTGRES_MAX_CONNECTIONS = 100


def built(project: Project) -> dict[str, dict[str, Any]]:
    """`kubectl kustomize` output (what `kubectl apply -k` sends), by kind."""
    return built_from(project.path / "kubernetes")


def built_from(folder: Path) -> dict[str, dict[str, Any]]:
    manifests = command(["kubectl", "kustomize", str(folder)]).stdout
    return {doc["kind"]: doc for doc in yaml.safe_load_all(manifests)}


def pod_spec(manifests: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = manifests[kind]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_manifests_exist_only_when_asked_for(rendered: RenderedFn, variant: Variant) -> None:
    folder = rendered(variant).path / "kubernetes"
    assert folder.is_dir() == bool(variant.answer("deploy_kubernetes"))


def test_kubernetes_without_docker_is_rejected(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=re.escape("deploy_kubernetes needs the Docker image")):
        copier.run_copy(
            str(template),
            destination,
            data=BASE_ANSWERS | {"use_docker": False, "deploy_kubernetes": True},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    assert not destination.exists()


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_every_manifest_validates_for_the_stated_kubernetes_version(
    rendered: RenderedFn, tmp_path: Path, variant: Variant
) -> None:
    project = rendered(variant)
    folder = project.path / "kubernetes"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    manifests = sorted(path.name for path in folder.glob("*.yaml"))
    # Every file is applied: none forgotten by the kustomization, none it names missing.
    assert sorted([*kustomization["resources"], "kustomization.yaml"]) == manifests
    (settings,) = kustomization["configMapGenerator"]
    assert (folder / settings["envs"][0]).is_file()

    output = tmp_path / "built.yaml"
    output.write_text(command(["kubectl", "kustomize", str(folder)]).stdout)
    files = [str(folder / manifest) for manifest in kustomization["resources"]]
    validate = ["kubernetes-validate", "--strict", "--kubernetes-version", KUBERNETES_VERSION]
    command([*validate, *files, str(output)])
    kinds = {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "Job"}
    assert set(built(project)) == kinds | {"PodDisruptionBudget"}


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_deployment_rolls_out_without_losing_capacity(
    rendered: RenderedFn, variant: Variant
) -> None:
    manifests = built(rendered(variant))
    deployment = manifests["Deployment"]["spec"]
    (container,) = pod_spec(manifests, "Deployment")["containers"]

    assert "replicas" not in deployment  # the autoscaler's to set; an apply would reset it
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert "startupProbe" in container
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in port
    config = manifests["ConfigMap"]["data"]
    # A dependency slower than the readiness check's own timeout reads as 503, not a probe timeout.
    assert container["readinessProbe"]["timeoutSeconds"] > float(
        config["READINESS_TIMEOUT_SECONDS"]
    )
    if variant.answer("use_cache"):  # a Redis outage must not take every pod out at once
        assert config["READINESS_REQUIRES_REDIS"] == "false"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]

    hpa, pdb = (
        manifests["HorizontalPodAutoscaler"]["spec"],
        manifests["PodDisruptionBudget"]["spec"],
    )
    assert hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert hpa["minReplicas"] >= 2
    assert pdb["minAvailable"] < hpa["minReplicas"]  # a node can still be drained
    pool = int(config["DATABASE_POOL_SIZE"]) + int(config["DATABASE_MAX_OVERFLOW"])
    assert hpa["maxReplicas"] * pool < POSTGRES_MAX_CONNECTIONS


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_a_changed_setting_rolls_the_pods_when_applied(
    rendered: RenderedFn, tmp_path: Path, variant: Variant
) -> None:
    folder = tmp_path / "kubernetes"
    shutil.copytree(rendered(variant).path / "kubernetes", folder)
    before = built_from(folder)
    settings = folder / "settings.env"
    settings.write_text(settings.read_text().replace("LOG_LEVEL=INFO", "LOG_LEVEL=DEBUG"))

    after = built_from(folder)

    def config_ref(manifests: dict[str, dict[str, Any]]) -> str:
        (container,) = pod_spec(manifests, "Deployment")["containers"]
        (source,) = container["envFrom"]
        name: str = source["configMapRef"]["name"]
        assert name == manifests["ConfigMap"]["metadata"]["name"]
        return name

    assert after["ConfigMap"]["data"]["LOG_LEVEL"] == "DEBUG"
    # A new pod template: the Deployment rolls its pods onto the new settings.
    assert config_ref(after) != config_ref(before)


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_termination_grace_covers_drain_and_graceful_shutdown(
    rendered: RenderedFn, variant: Variant
) -> None:
    manifests = built(rendered(variant))
    spec = pod_spec(manifests, "Deployment")
    (container,) = spec["containers"]
    drain = container["lifecycle"]["preStop"]["exec"]["command"]
    assert drain[0] == "sleep"
    shutdown = float(manifests["ConfigMap"]["data"]["SHUTDOWN_GRACE_SECONDS"])
    assert spec["terminationGracePeriodSeconds"] > float(drain[1]) + shutdown


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_pods_and_selectors_are_locked_down(rendered: RenderedFn, variant: Variant) -> None:
    manifests = built(rendered(variant))
    for kind in ("Deployment", "Job"):
        spec = pod_spec(manifests, kind)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, kind
    # The Service and the disruption budget count the api pods, never the migration's.
    job_labels = manifests["Job"]["spec"]["template"]["metadata"]["labels"]
    api_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        manifests["Service"]["spec"]["selector"],
        manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        manifests["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= api_labels.items()
        assert not selector.items() <= job_labels.items()


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_secrets_are_only_referenced(rendered: RenderedFn, variant: Variant) -> None:
    project = rendered(variant)
    manifests = built(project)
    assert "Secret" not in manifests
    secret_names = {"DATABASE_URL"} | ({"REDIS_URL"} if variant.answer("use_cache") else set())
    for kind in ("Deployment", "Job"):
        for container in pod_spec(manifests, kind)["containers"]:
            env = {item["name"]: item for item in container.get("env", [])}
            assert set(env) <= secret_names
            for item in env.values():
                assert set(item) == {"name", "valueFrom"}
                assert set(item["valueFrom"]) == {"secretKeyRef"}
    assert secret_names.isdisjoint(manifests["ConfigMap"]["data"])

    env = dict(
        line.split("=", 1)
        for line in (project.path / ".env").read_text().splitlines()
        if "=" in line
    )
    passwords = {value for key, value in env.items() if re.search("PASSWORD|SECRET|TOKEN", key)}
    values = {value for value in env.values() if any(p in value for p in passwords)}
    assert len(values) >= 2, env  # the password, and DATABASE_URL holding it
    leaks = [
        str(path)
        for path in project.files
        if path != Path(".env")
        for value in values
        if value in (project.path / path).read_text()
    ]
    assert leaks == []


@pytest.mark.parametrize("variant", KUBERNETES, ids=ids(KUBERNETES))
def test_manifests_run_the_image(
    built_image: BuiltImageFn, rendered: RenderedFn, variant: Variant
) -> None:
    """The Job's command, the Deployment's user, read-only filesystem, settings, port and probe
    paths, applied to the real image with `docker run`: what a cluster would run."""
    manifests = built(rendered(variant))
    image = built_image(variant)
    as_kubernetes: list[str] = ["--read-only", "--cap-drop", "ALL"]
    as_kubernetes += ["--security-opt", "no-new-privileges"]
    # The image's own user: runAsNonRoot checks it, and files in the image belong to it.
    for kind in ("Deployment", "Job"):
        context = pod_spec(manifests, kind)["securityContext"]
        assert f"{context['runAsUser']}:{context['runAsGroup']}" == image.user, kind
    as_kubernetes += ["--user", image.user]
    (mount,) = pod_spec(manifests, "Deployment")["containers"][0]["volumeMounts"]
    as_kubernetes += ["--tmpfs", mount["mountPath"]]

    with cleanup() as created:
        network = name(variant.id, "k8s")
        docker("network", "create", network)
        created.networks.append(network)
        start_postgres(created, network, "postgres", "k8s-test")
        secrets = ["--env", "DATABASE_URL=postgresql+asyncpg://app:k8s-test@postgres:5432/app"]
        if variant.answer("use_cache"):
            start_redis(created, network, "redis")
            secrets += ["--env", "REDIS_URL=redis://redis:6379/0"]

        (job,) = pod_spec(manifests, "Job")["containers"]
        docker("run", "--rm", "--network", network, *as_kubernetes, *secrets, image.tag,
               *job["command"])  # fmt: skip

        (api,) = pod_spec(manifests, "Deployment")["containers"]
        assert "command" not in api  # the image's own CMD serves
        settings = [f"--env={key}={value}" for key, value in manifests["ConfigMap"]["data"].items()]
        (port,) = api["ports"]
        app = start(
            created,
            "--network", network, *as_kubernetes, *secrets, *settings,
            "--publish", f"127.0.0.1::{port['containerPort']}", image.tag,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{host_port(app, port['containerPort'])}"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = api[probe]["httpGet"]["path"]
            url = base_url + path
            wait_until(f"{probe} {path} answering 200", 60, lambda url=url: answers_ok(url))
