"""compose.yaml names the processes the scale-out tests start, with the same commands, and only settings that
exist: no Docker engine here, so this is what keeps the file honest (the YAML itself is parsed, not linted)."""

from __future__ import annotations

import yaml

from service.cli import COMMANDS
from service.settings import Settings
from tests.service.scaleout.processes import REPO, compose_command


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_the_promptcut_services_run_promptcut_commands_that_exist() -> None:
    assert compose_command("api") == ["serve", "--no-migrate"]
    assert compose_command("migrate") == ["migrate"]
    assert compose_command("worker")[0] == "worker"
    for name in ("api", "migrate", "worker"):
        assert compose_command(name)[0] in COMMANDS


def test_every_promptcut_variable_in_compose_is_a_setting() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    services = compose()["services"]
    for name in ("api", "migrate", "worker"):
        for variable in services[name]["environment"]:
            if variable.startswith("PROMPTCUT_"):
                assert variable.removeprefix("PROMPTCUT_") in fields, f"{name}: {variable} is not a setting"


def test_the_api_and_workers_wait_for_the_migration_broker_and_store() -> None:
    services = compose()["services"]
    for name in ("api", "worker"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("redis", "postgres", "minio", "api"):
        assert services[name]["healthcheck"]["test"], name
