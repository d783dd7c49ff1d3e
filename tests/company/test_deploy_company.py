"""Company mode's deployment files: the worker unit verifies with a low exposure, and the
compose file declares what it uses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    if ANALYZE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have systemd-analyze (.ci/run installs systemd)")
        pytest.skip("systemd-analyze not installed")
    exe = Path(sys.executable).parent / "followup"
    text = (ROOT / "systemd" / "followup-worker@.service").read_text()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={exe}", text, flags=re.M)
    (tmp_path / "followup-worker@.service").write_text(text)
    (tmp_path / "followup-worker@1.service").symlink_to("followup-worker@.service")
    return tmp_path / "followup-worker@1.service"


@pytest.mark.slow
def test_the_worker_unit_verifies_and_is_locked_down(unit: Path) -> None:
    assert ANALYZE is not None
    verify = subprocess.run([ANALYZE, "verify", unit.name], capture_output=True, text=True,
                            cwd=unit.parent, timeout=120)
    problems = [line for line in (verify.stdout + verify.stderr).splitlines()
                if line.strip() and "RestartMaxDelaySec" not in line]
    assert verify.returncode == 0 and not problems, problems
    security = subprocess.run([ANALYZE, "security", "--offline=true", unit.name],
                              capture_output=True, text=True, cwd=unit.parent, timeout=120)
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert level and float(level.group(1)) <= 2.0, security.stdout[-500:]


def test_the_company_compose_file_declares_what_it_uses() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.company.yaml").read_text())
    services = compose["services"]
    assert {"worker", "admin", "db"} <= set(services)
    for name, service in services.items():
        assert set(service.get("networks", [])) <= set(compose["networks"]), name
        assert set(service.get("secrets", [])) <= set(compose.get("secrets", {})), name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], name
    worker = services["worker"]
    assert worker["command"][-1] == "worker"
    env = worker["environment"]
    assert env["FOLLOWUP_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["FOLLOWUP_MASTER_KEY_FILE"] == "/run/secrets/master_key"
    assert "FOLLOWUP_MASTER_KEY" not in env, "the key comes as a secret file, not in env"
