"""docker-compose.yml runs what exists: real commands, real settings, the whole default topology.

No Docker is needed: the file is parsed, each command's module and options are checked against
the program's own ``--help``, and each environment variable against the settings class of the
service it configures (pydantic-settings: ``LGSP_*`` for hubs, ``FLEET_*`` for fleets).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from agencies.settings import FleetSettings
from lgsp.settings import HubSettings
from sim.cli import app
from sim.runtime import fleet_id_for, hub_schema_for
from sim.topology import DEFAULT_PRESET, load_topology

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SETTINGS: dict[str, type[BaseSettings]] = {
    "lgsp": HubSettings,
    "ndxp_mock": HubSettings,
    "agencies": FleetSettings,
}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The compose services, anchors and merge keys resolved."""
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    found = document["services"]
    assert isinstance(found, dict)
    return found


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    assert isinstance(command, list), "commands are exec-form lists (no shell in between)"
    return [str(part) for part in command]


def _options(command: list[str]) -> list[str]:
    return [part for part in command if part.startswith("--")]


@functools.cache
def _module_help(module: str, sub: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, sub, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"python -m {module} {sub} --help failed: {done.stderr}"
    return done.stdout


def _cli_help(sub: str) -> str:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [sub, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def _env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable name a settings class reads (upper case)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def test_every_command_exists_with_its_options(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "command" not in service:
            continue  # postgres: the image's own entry point
        command = _command(service)
        if command[0] == "python":
            assert command[1] == "-m", f"{name}: run a module with python -m"
            module, sub = command[2], command[3]
            assert importlib.util.find_spec(f"{module}.__main__") is not None, (
                f"{name}: {module} has no __main__"
            )
            help_text = _module_help(module, sub)
        else:
            assert command[0] == "lgsp-sim", f"{name}: unexpected program {command[0]}"
            help_text = _cli_help(command[1])
        for option in _options(command):
            assert re.search(rf"{re.escape(option)}\b", help_text), (
                f"{name}: {' '.join(command[:4])} has no option {option}"
            )


def test_every_environment_variable_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, service in services.items():
        if "command" not in service or _command(service)[0] != "python":
            continue
        settings = SETTINGS[_command(service)[2]]
        accepted = _env_names(settings)
        environment = service.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: environment as a mapping"
        for variable in environment:
            assert variable.upper() in accepted, (
                f"{name}: {variable} is not a field of {settings.__name__} "
                f"(accepted: {', '.join(sorted(accepted))})"
            )
            checked += 1
    assert checked > 0


def test_services_cover_the_default_topology(services: dict[str, dict[str, Any]]) -> None:
    topology = load_topology(DEFAULT_PRESET)
    hubs = [h.hub_id for h in topology.hubs()]
    fleets = [fleet_id_for(h) for h in hubs if topology.agencies_of(h)]
    for hub in hubs:
        assert hub in services, f"no service for hub {hub}"
        command = _command(services[hub])
        if hub == topology.ndxp.hub_id:
            assert command[2:4] == ["ndxp_mock", "serve"]
        else:
            assert command[2:4] == ["lgsp", "serve"]
            assert command[command.index("--hub-id") + 1] == hub
        environment = services[hub]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:" in environment["DATABASE_URL"]
        assert environment["LGSP_DATABASE_SCHEMA"] == hub_schema_for(hub)
    for fleet in fleets:
        assert fleet in services, f"no service for fleet {fleet}"
        command = _command(services[fleet])
        assert command[2:4] == ["agencies", "serve"]
        assert command[command.index("--fleet-id") + 1] == fleet
    init = _command(services["init"])
    assert init[init.index("--topology") + 1] == DEFAULT_PRESET


def test_every_process_listens_on_the_port_its_url_names(
    services: dict[str, dict[str, Any]],
) -> None:
    init = _command(services["init"])
    template = init[init.index("--service-urls") + 1]
    port = template.rsplit(":", 1)[1]
    published = []
    for name, service in services.items():
        if "command" not in service or _command(service)[0] != "python":
            continue
        command = _command(service)
        assert command[command.index("--port") + 1] == port, name
        assert command[command.index("--data") + 1] == "/data", name
        host = service["environment"].get("LGSP_HOST") or service["environment"].get("FLEET_HOST")
        assert host == "0.0.0.0", f"{name} must listen beyond its container's loopback"  # noqa: S104
        published += [p.split(":")[0] for p in service.get("ports", [])]
    assert len(published) == len(set(published)), "two services publish the same host port"


def test_dependencies_and_build(services: dict[str, dict[str, Any]]) -> None:
    assert "postgres" in services
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        if "build" in service:
            assert (ROOT / str(service["build"]) / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("edoc", "keys", "simtime", "lgsp", "ndxp_mock", "agencies", "sim"):
        assert f"COPY {package} ./{package}" in dockerfile
