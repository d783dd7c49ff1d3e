"""A local-only install (no `[google]`, no `[microsoft]` extra): the local provider works, and
an online account says which extra to install instead of failing with an ImportError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Makes the online providers' libraries unimportable, as in an install without the extras.
BLOCKER = '''
import sys
BLOCKED = ("googleapiclient", "google", "google_auth_oauthlib", "google_auth_httplib2",
           "httplib2", "msal", "msal_extensions")
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
'''


def _followup(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if k not in ("FOLLOWUP_CONFIG",)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "followup", "--log-format", "json", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_demo_runs_without_the_online_providers_libraries(tmp_path: Path) -> None:
    done = _followup(tmp_path, "demo", "--workdir", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_an_online_account_names_the_extra_to_install(tmp_path: Path) -> None:
    assert _followup(tmp_path, "demo", "--workdir", str(tmp_path / "demo")).returncode == 0
    config = tmp_path / "demo" / "followup.toml"
    with config.open("a") as f:
        f.write('\n[[accounts]]\nkind = "google"\nname = "work"\n'
                '\n[[accounts]]\nkind = "microsoft"\nname = "office"\nclient_id = "x"\n')
    run = _followup(tmp_path, "--config", str(config), "run", "--once")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "demo: ok" in run.stdout, "the local account goes on"
    assert ("work: failed: the Google libraries are not installed (no module "
            "'googleapiclient'): pip install 'followup[google]'") in run.stdout
    assert "office: failed: the Microsoft libraries are not installed (no module 'msal'): " \
        "pip install 'followup[microsoft]'" in run.stdout
    assert "Traceback" not in run.stderr

    doctor = _followup(tmp_path, "--config", str(config), "doctor")
    assert ("[FAIL] account work (google): the Google libraries are not installed (no module "
            "'googleapiclient')") in doctor.stdout
    assert "-> pip install 'followup[google]'" in doctor.stdout
    assert "-> pip install 'followup[microsoft]'" in doctor.stdout

    connect = _followup(tmp_path, "--config", str(config), "connect", "google")
    assert connect.returncode == 1
    assert connect.stderr.strip().endswith("pip install 'followup[google]' (pipx: pipx install "
                                           "--force 'followup[google]')")
    assert "Traceback" not in connect.stderr
