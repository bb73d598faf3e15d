"""The deployment artefacts agree with the code: manifests, image, compose, and production settings."""

import re
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"


def manifests() -> list[dict]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def workloads() -> list[dict]:
    return [doc for doc in manifests() if doc["kind"] in ("Deployment", "Job")]


def containers() -> list[tuple[dict, dict]]:
    return [(doc, c) for doc in workloads() for c in doc["spec"]["template"]["spec"]["containers"]]


def entrypoint_roles() -> set[str]:
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    return set(re.findall(r"^  ([a-z]+)\)$", script, flags=re.MULTILINE))


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert kustomization["namespace"] == "petrosa-apps"


def test_every_process_has_a_deployment_and_the_migration_a_job():
    components = {doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc["kind"] for doc in workloads()}
    assert components == {
        "web": "Deployment",
        "consumer": "Deployment",
        "worker": "Deployment",
        "beat": "Deployment",
        "migrate": "Job",
    }


def test_exactly_one_beat_even_during_rollouts():
    beat = next(d for d in workloads() if d["metadata"]["name"].endswith("-beat"))
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"


def test_containers_have_resources_and_a_locked_down_security_context():
    for workload, container in containers():
        name = workload["metadata"]["name"]
        assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}, name
        assert container["resources"]["limits"] == {"cpu": "1000m", "memory": "2Gi"}, name
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 1000, name
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name


def test_containers_run_the_images_entrypoint_roles():
    roles = entrypoint_roles()
    assert {"web", "consumer", "worker", "beat", "migrate"} <= roles
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["docker/entrypoint.sh"]' in dockerfile
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    image_name = kustomization["images"][0]["name"]
    for workload, container in containers():
        assert container["image"].split(":")[0] == image_name
        assert container["args"][0] in roles
        assert container["args"][0] == workload["metadata"]["labels"]["app.kubernetes.io/component"]


def test_entrypoint_execs_every_long_running_process():
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    for role in ("web", "consumer", "worker", "beat"):
        block = script.split(f"  {role})", 1)[1].split(";;", 1)[0]
        commands = [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert commands[0].startswith("exec "), role


@pytest.mark.django_db
def test_web_probes_point_at_real_endpoints():
    web = next(d for d in workloads() if d["metadata"]["name"].endswith("-web"))
    container = web["spec"]["template"]["spec"]["containers"][0]
    client = Client()
    liveness = container["livenessProbe"]["httpGet"]
    assert client.get(liveness["path"], HTTP_HOST="localhost").status_code == 200
    readiness = container["readinessProbe"]["httpGet"]
    assert client.get(readiness["path"], HTTP_HOST="localhost").status_code in (200, 503)
    port_names = {p["name"] for p in container["ports"]}
    assert liveness["port"] in port_names and readiness["port"] in port_names


def test_metrics_ports_are_annotated_for_prometheus():
    annotated = {}
    for workload, container in containers():
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            ports = {p["containerPort"] for p in container.get("ports", [])}
            assert int(annotations["prometheus.io/port"]) in ports
            annotated[container["args"][0]] = int(annotations["prometheus.io/port"])
    assert annotated == {"web": 8000, "consumer": 9090}


def test_config_and_secrets_are_referenced_by_name():
    for _workload, container in containers():
        assert {"configMapRef": {"name": "petrosa-data-manager-config"}} in container["envFrom"]
        nats = next(e for e in container["env"] if e["name"] == "NATS_URL")
        assert nats["valueFrom"]["configMapKeyRef"] == {"name": "petrosa-common-config", "key": "NATS_URL"}
    secrets = [
        v["secret"]["secretName"]
        for d in workloads()
        for v in d["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    ]
    assert set(secrets) == {"petrosa-sensitive-credentials"}


def test_web_scales_three_to_ten_on_cpu():
    hpa = next(d for d in manifests() if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "petrosa-data-manager-web"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_compose_runs_the_production_engines_and_every_process():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["mongo"]["image"].startswith("mongo:7")
    assert "-js" in services["nats"]["command"]
    assert services["redis"]["image"].startswith("redis")
    roles = entrypoint_roles()
    for process in ("web", "consumer", "worker", "beat", "migrate"):
        assert services[process]["command"][0] == process
        assert services[process]["command"][0] in roles


def test_the_image_installs_the_same_requirements_ci_installs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r /tmp/requirements.txt" in dockerfile
    assert "COPY requirements.txt" in dockerfile
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r requirements-dev.txt" in makefile
    assert "USER 1000:1000" in dockerfile
    assert "HEALTHCHECK" in dockerfile
