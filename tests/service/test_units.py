"""The systemd units pass `systemd-analyze verify` and rate 2.0 or better (lower is safer)
in `systemd-analyze security --offline=yes`.

CI installs systemd (.ci/run); elsewhere the test skips when systemd-analyze is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
MAX_EXPOSURE = 2.0
# Keys systemd < 254 does not know yet; it warns and ignores them, which is what we want.
NEWER_KEYS = ("RestartSteps", "RestartMaxDelaySec")

pytestmark = pytest.mark.slow

ANALYZE = shutil.which("systemd-analyze")
if ANALYZE is None and os.environ.get("CI") != "true":
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason="systemd-analyze not installed")]


def _followup_executable() -> str:
    """A real followup script, so verify's 'is the command executable' check means something."""
    found = Path(sys.executable).parent / "followup"
    return str(found) if found.exists() else shutil.which("followup") or sys.executable


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """The units as shipped, with ExecStart pointing at this environment's followup."""
    exe = _followup_executable()
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        text = re.sub(r"^ExecStart=\S+", f"ExecStart={exe}", text, flags=re.M)
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "followup@work.service").symlink_to("followup@.service")
    return tmp_path


def _analyze(*args: str, user: bool, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None, "CI must have systemd-analyze (.ci/run installs systemd)"
    env = dict(os.environ)
    if user:  # the user manager's paths need a runtime dir, even offline
        runtime = cwd / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    cmd = [ANALYZE, *(["--user"] if user else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _unexpected(output: str) -> list[str]:
    return [
        line for line in output.splitlines()
        if line.strip() and not any(f"Unknown key '{k}'" in line or f"Unknown key name '{k}'"
                                    in line for k in NEWER_KEYS)
    ]


@pytest.fixture
def generated(unit_dir: Path, tmp_path: Path) -> Path:
    """`followup install-unit` output for the demo workspace, beside the shipped units: a
    user unit (followup-generated.service) and the system template with the generated
    drop-in appended (followup-dropin@work.service; appending = what a drop-in does)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from followup.config import load_config
    from followup.demo.workspace import build_workspace
    from followup.service.unit import system_dropin, user_unit

    config_path = build_workspace(tmp_path / "ws", datetime.now(UTC), ZoneInfo("UTC"))
    config = load_config(config_path)
    user = user_unit(config, config_path, executable=_followup_executable())
    (unit_dir / "followup-generated.service").write_text(user)
    template = (unit_dir / "followup@.service").read_text()
    (unit_dir / "followup-dropin@.service").write_text(
        template + "\n" + system_dropin(config, config_path))
    (unit_dir / "followup-dropin@work.service").symlink_to("followup-dropin@.service")
    return unit_dir


ALL_UNITS = [("followup.service", True), ("followup@work.service", False),
             ("followup-generated.service", True), ("followup-dropin@work.service", False)]


@pytest.mark.parametrize(("unit", "user"), ALL_UNITS)
def test_unit_verifies_cleanly(generated: Path, unit: str, user: bool) -> None:
    unit_dir = generated
    done = _analyze("verify", str(unit_dir / unit), user=user, cwd=unit_dir)
    assert done.returncode == 0, done.stderr
    assert _unexpected(done.stdout + done.stderr) == []


@pytest.mark.parametrize(("unit", "user"), ALL_UNITS)
def test_unit_security_exposure_is_low(generated: Path, unit: str, user: bool) -> None:
    unit_dir = generated
    done = _analyze("security", "--offline=yes", "--no-pager", str(unit_dir / unit),
                    user=user, cwd=unit_dir)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert m, done.stdout[-2000:] + done.stderr
    exposure = float(m.group(1))
    print(f"{unit}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, done.stdout
