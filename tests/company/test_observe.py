"""A worker's /metrics and /healthz (`followup worker --metrics-listen`): the queue, the lag
from due time to draft, throttled accounts, from PostgreSQL; no per-account series."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from followup.company.store import AccountStore

from .helpers import TENANT_SETTINGS, make_mailbox, now_utc, start_worker, stop, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def _gauges(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("followup_company_"):
            name, _, value = line.rpartition(" ")
            found[name.removeprefix("followup_company_")] = float(value)
    return found


def test_a_worker_serves_the_queue_the_lag_and_throttled_accounts(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore
) -> None:
    store.add_tenant("acme", TENANT_SETTINGS)
    box = make_mailbox(tmp_path, "bob", now_utc())  # two meetings ended: two drafts due
    store.add_account("acme", box.config())
    quiet = make_mailbox(tmp_path, "carol", now_utc(), meetings=0)
    store.add_account("acme", quiet.config())
    store.throttle("carol", now_utc() + timedelta(hours=1), "429 Too Many Requests")
    port = _free_port()
    worker = start_worker(company_url, master_key, log=tmp_path / "w.log",
                          extra=["--metrics-listen", f"127.0.0.1:{port}"])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _gauges(_get(base + "/metrics")[1]).get("drafts_last_hour") == 2,
                 60, "both drafts in the worker's /metrics")
        code, text = _get(base + "/metrics")
        gauges = _gauges(text)
        assert code == 200
        assert gauges["accounts"] == 2 and gauges["throttled"] == 1
        assert {"queue_ready", "queue_waiting", "oldest_ready_seconds"} <= set(gauges)
        # Meetings ended one and two hours before the first sync: that is their lag.
        assert 3600 <= gauges["due_to_draft_p50_seconds"] <= gauges["due_to_draft_max_seconds"]
        assert 'account="' not in text  # thousands of accounts are not thousands of series
        code, body = _get(base + "/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        assert _get(base + "/nothing")[0] == 404
    finally:
        stop(worker)
