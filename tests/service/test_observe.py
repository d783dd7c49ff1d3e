"""What an operator sees: /healthz, /metrics and `followup status`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import DaemonProcess, NotifySocket, append_config, run_followup
from .test_daemon import UNCONNECTED

pytestmark = pytest.mark.slow

LISTEN = '[daemon]\nhttp_listen = "127.0.0.1:0"\n'


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers["Content-Type"], e.read().decode()


def _base(d: DaemonProcess) -> str:
    port = d.wait_event("http.listening")["port"]
    return f"http://127.0.0.1:{port}"


def test_healthz_is_200_with_a_healthy_account_and_metrics_count_the_work(
    workspace: Path, tmp_path: Path, notify_socket: NotifySocket,
    daemons: Callable[..., DaemonProcess],
) -> None:
    append_config(workspace, UNCONNECTED + LISTEN)
    d = daemons(workspace, tmp_path / "log", notify=notify_socket)
    base = _base(d)
    notify_socket.wait(r"^STATUS=.*next wake")  # both accounts had their first attempt
    code, ctype, body = _get(base + "/healthz")
    assert code == 200 and ctype == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["accounts"]["demo"]["state"] == "ok"
    assert health["accounts"]["demo"]["last_success"]
    assert health["accounts"]["office"]["state"] == "needs_reconnect"
    assert "followup connect" in health["accounts"]["office"]["last_error"]

    code, ctype, text = _get(base + "/metrics")
    assert code == 200 and ctype.startswith("text/plain")
    assert re.search(r'^followup_cycles_total\{account="demo",result="ok"\} 1\.0$', text, re.M)
    assert re.search(r'^followup_cycles_total\{account="office",result="needs_reconnect"\} 1\.0$',
                     text, re.M)
    assert re.search(r'^followup_writes_total\{kind="draft",outcome="created"\} [1-9]', text,
                     re.M)
    assert re.search(r'^followup_last_sync_timestamp_seconds\{account="demo"\} 1\.\d+e\+09$',
                     text, re.M)
    assert re.search(r'^followup_pending_touches\{account="demo"\} \d', text, re.M)
    assert re.search(r'^followup_account_healthy\{account="office"\} 0\.0$', text, re.M)
    assert _get(base + "/nothing")[0] == 404
    assert d.stop() == 0


def test_healthz_is_503_when_no_account_is_healthy(
    tmp_path: Path, notify_socket: NotifySocket, daemons: Callable[..., DaemonProcess],
) -> None:
    config = tmp_path / "followup.toml"
    config.write_text(f'state_dir = "state"\n{UNCONNECTED}\n{LISTEN}')
    d = daemons(config, tmp_path / "log", notify=notify_socket)
    base = _base(d)
    notify_socket.wait(r"^STATUS=.*next wake")
    code, _, body = _get(base + "/healthz")
    assert code == 503
    assert json.loads(body)["status"] == "unhealthy"
    assert d.stop() == 0


def test_status_json_after_a_run(workspace: Path) -> None:
    append_config(workspace, UNCONNECTED)
    assert run_followup("--config", str(workspace), "run", "--once").returncode == 1
    done = run_followup("--config", str(workspace), "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    accounts = {a["name"]: a for a in status["accounts"]}
    assert accounts["demo"]["credentials"]["state"] == "none"
    assert accounts["demo"]["last_sync"] is not None
    assert accounts["demo"]["needs_reconnect"] is False
    assert accounts["office"]["credentials"]["state"] == "missing"
    assert accounts["office"]["needs_reconnect"] is True
    assert any(e["account"] == "office" for e in status["errors"])
    # Blocks for the meetings that just ended wait for their day: upcoming touches.
    assert all(t["due"] for t in status["touches"])
    assert sum(a["pending"] + a["upcoming"] for a in accounts.values()) == len(status["touches"])


def test_status_table_on_a_fresh_setup_does_not_create_a_ledger(workspace: Path) -> None:
    done = run_followup("--config", str(workspace), "status")
    assert done.returncode == 0, done.stderr
    assert "ACCOUNT" in done.stdout and "demo" in done.stdout
    assert "the daemon has not run" in done.stdout
    assert not (workspace.parent / "state" / "ledger.sqlite3").exists()
