"""The Docker Compose stack (``docker-compose.yml``, ``Dockerfile``, ``deploy/``), checked without Docker.

No Docker engine runs where the tests run, so the stack is checked piece by piece: the compose
file against the Compose Specification's JSON schema, vendored as ``tests/fixtures/compose-spec.json``
(from https://github.com/compose-spec/compose-spec, ``schema/compose-spec.json``, Apache License 2.0;
its ``$comment`` names the commit); every image pinned; every bind mount, build context and file
the image copies present in the repository; every command of our image a real ``paypulse``
command with real options, its paths present where the container will look; the stack's settings
loading and agreeing with the services (broker, topic, ports); the Prometheus config valid for
``promtool`` as mounted; Grafana's provisioning pointing at the Prometheus service and at the
boards ``paypulse dashboards export`` writes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml
from typer._click import Command, Context
from typer.core import TyperGroup

from dashboards.provision import export
from kernel.settings import Settings, load_settings
from paypulse.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
STACK_SETTINGS = ROOT / "deploy" / "paypulse.toml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PAYPULSE_* variable of the machine running the tests may leak into the settings checked."""
    for name in list(os.environ):
        if name.startswith("PAYPULSE_"):
            monkeypatch.delenv(name)


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image (built from the Dockerfile, entry point ``paypulse``)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source in the repository, target in the container)`` of a service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts.append((source, target))
    return mounts


def named_volume_target(service: dict[str, Any], volume: str) -> str:
    """Where ``service`` mounts the named ``volume``."""
    for entry in service.get("volumes", []):
        if isinstance(entry, str) and entry.split(":")[0] == volume:
            return entry.split(":")[1]
    raise AssertionError(f"volume {volume} is not mounted")


def image_copies() -> dict[str, Path]:
    """Container path -> repository path for each ``COPY`` of the Dockerfile (after its WORKDIR)."""
    workdir = PurePosixPath("/")
    copies: dict[str, Path] = {}
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["WORKDIR"]:
            workdir = workdir / words[1]
        elif words[:1] == ["COPY"] and not any(w.startswith("--") for w in words):
            *sources, target = words[1:]
            for source in sources:
                into = workdir / target
                copies[str(into / source if target.endswith("/") and len(sources) > 1 else into)] = (
                    ROOT / source
                )
    return copies


def in_repository(container_path: str, service: dict[str, Any]) -> Path | None:
    """The repository file a container path of one of our services is, through its bind mounts or
    the image's copies; None for a path the stack creates (a volume, a temporary directory)."""
    places = {target: ROOT / source for source, target in bind_mounts(service)} | image_copies()
    for target, source in sorted(places.items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / os.path.relpath(container_path, target)
    return None


def option(command: list[str], name: str) -> str:
    """The value of ``name`` in a command, given as ``--name value`` or ``--name=value``."""
    for i, word in enumerate(command):
        if word == name:
            return command[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{name} is not in {command}")


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: svc.get("command", [None])[0] for name, svc in ours(compose).items()}
    assert {"kafka", "prometheus", "grafana"} <= set(services)
    assert sorted(commands.values()) == ["dashboards", "run", "simulate", "statuspage"], commands


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    images = [svc["image"] for svc in compose["services"].values()]
    images += [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), f"{image} is not pinned to a tag"
        assert re.search(r"\d", tag), f"{image}: the tag names no version"


def test_every_bind_mount_build_context_and_copied_file_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for source, _target in bind_mounts(service):
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert context.is_dir(), name
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
    for target, source in image_copies().items():
        assert source.exists(), f"the Dockerfile copies {source.relative_to(ROOT)} to {target}; it is missing"


def _resolve(args: list[str]) -> tuple[Command, Context]:
    """Parse ``paypulse ARGS`` as the real command would, without running it."""
    command: Command = typer.main.get_command(app)
    ctx = command.make_context("paypulse", list(args), resilient_parsing=False)
    while isinstance(command, TyperGroup):  # as TyperGroup.invoke walks down to the subcommand
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None, f"paypulse has no command {name}"
        command, ctx = sub, sub.make_context(name or "", rest, parent=ctx)
    return command, ctx


def test_every_service_of_our_image_runs_a_real_paypulse_command(compose: dict[str, Any]) -> None:
    for name, service in ours(compose).items():
        command, ctx = _resolve(service["command"])
        assert command.callback is not None, name
        assert not ctx.args, f"{name}: paypulse {' '.join(service['command'])} leaves {ctx.args} unparsed"


def test_files_the_commands_name_are_where_the_containers_look(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in ours(compose).items():
        volumes = [v.split(":")[1] for v in service.get("volumes", []) if not v.startswith((".", "/"))]
        for word in (w for w in service["command"] if w.startswith("/")):
            path = in_repository(word, service)
            if path is None:  # made by the stack: only a volume may hold it
                assert any(word.startswith(v) for v in volumes), f"{name}: {word} is in no mount or copy"
                continue
            assert path.is_file(), f"{name} runs with {word}, which would be {path}: missing"
            checked += 1
    assert checked >= 3, "the config file (run, statuspage) and the scenario (simulator) are checked"


def test_the_stack_settings_load_and_agree_with_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    settings: Settings = load_settings(STACK_SETTINGS)
    run = services["paypulse"]
    assert in_repository(option(run["command"], "--config"), run) == STACK_SETTINGS
    assert settings.source.kind == "kafka"
    assert settings.source.brokers == ["kafka:9092"]
    assert "PLAINTEXT://kafka:9092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    topics = services["kafka-topics"]["command"]
    assert (
        option(topics, "--topic")
        == settings.source.topic
        == option(services["simulator"]["command"], "--topic")
    )
    assert option(services["simulator"]["command"], "--kafka-brokers") == "kafka:9092"
    assert settings.statuspage.host == settings.metrics.host == "0.0.0.0"
    assert services["statuspage"]["ports"] == [f"8080:{settings.statuspage.port}"]
    assert str(settings.metrics.port) in run["healthcheck"]["test"][-1]
    state = named_volume_target(run, "paypulse-state")
    assert named_volume_target(services["statuspage"], "paypulse-state") == state
    for path in (
        settings.dead_letter,
        settings.alerting.log,
        settings.alerting.outbox,
        settings.statuspage.db,
    ):
        assert path.parent == Path(state), f"{path} is not in the paypulse-state volume"
    cluster_id = services["kafka"]["environment"]["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "KRaft wants 16 bytes, base64url"


def test_prometheus_scrapes_the_paypulse_service(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounted = in_repository(option(prometheus["command"], "--config.file"), prometheus)
    assert mounted is not None, "the config file is mounted from the repository"
    config = yaml.safe_load(mounted.read_text())
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"paypulse:{load_settings(STACK_SETTINGS).metrics.port}"]


@pytest.mark.integration
@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (scripts/install-system)"
)
def test_promtool_accepts_the_prometheus_config_as_mounted(compose: dict[str, Any], tmp_path: Path) -> None:
    """The container's /etc/prometheus, rebuilt from the mounts, passes ``promtool check config``."""
    prometheus = compose["services"]["prometheus"]
    for source, target in bind_mounts(prometheus):
        place = tmp_path / target.lstrip("/")
        place.parent.mkdir(parents=True, exist_ok=True)
        place.symlink_to(ROOT / source)
    config = option(prometheus["command"], "--config.file")
    done = subprocess.run(["promtool", "check", "config", str(tmp_path / config.lstrip("/"))],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "paypulse.rules.yml" in done.stdout + done.stderr, "the rule files are found and checked"


def test_grafana_gets_the_prometheus_datasource_and_the_exported_boards(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    services = compose["services"]
    grafana = services["grafana"]
    provisioning = in_repository("/etc/grafana/provisioning", grafana)
    assert provisioning is not None and provisioning.is_dir()
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == (
        "prometheus",
        "http://prometheus:9090",
        True,
    )
    assert "9090:9090" in services["prometheus"]["ports"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "paypulse.yml").read_text())["providers"]
    boards_in_grafana = named_volume_target(grafana, "grafana-boards")
    assert provider["options"]["path"] == f"{boards_in_grafana}/boards"
    exporter = services["dashboards"]
    assert option(exporter["command"], "--out") == named_volume_target(exporter, "grafana-boards")
    written = {p.name for p in export(tmp_path) if p.parent.name == "boards"}
    assert {"paypulse-overview.json", "paypulse-merchants.json", "paypulse-health.json"} <= written
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/") and Path(home).name in written
    for board in written:
        assert json.loads((tmp_path / "boards" / board).read_text())["uid"] == Path(board).stem
