"""Push mode at scale: what channels cost while idle, and how fast a notice queues a sync.

    python benchmarks/push_scale.py                    # 200 Google + 100 Microsoft accounts
    python benchmarks/push_scale.py --google 1000 --microsoft 500 --days 7

On a schema of its own in the local PostgreSQL (dropped afterwards), with the push tests'
fakes (tests/push: Gmail watch, Calendar channels, Graph subscriptions with the validation
handshake, the app-only grant) and the real renewal, webhook (uvicorn) and queue.

1. idle: `--days` simulated days of renewal rounds every `--renew-minutes` (5): every
   provider request the channels cost (watch, channel replacement and stop, subscription
   PATCH, tokens), per account per idle minute. Added to it in the table: the safety poll
   (`--safety-poll` minutes, 1 request per idle Google cycle, measured in
   benchmarks/google_idle_cpu.py), which stays as the net under push.
2. lag: every Google account's calendar changes at once (each channel pinged by the fake)
   and every Microsoft subscription gets a change notice, `--rounds` times; per notice,
   the time from the provider sending it to the sync job waiting in the queue (the
   webhook's answer is immediate; the worker picks a waiting job up within its polling
   interval, measured by company_scale.py). Duplicates: how many jobs per account.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "google")]

DEFAULT_DB = "postgresql+psycopg://postgres@localhost:5432/test"
CLIENT_ID = "0a1b2c3d-0000-4000-8000-00000000abcd"
ROLES = ("Calendars.ReadWrite", "Mail.ReadWrite", "Contacts.ReadWrite", "GroupMember.Read.All")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", default=os.environ.get("FOLLOWUP_BENCH_DATABASE", DEFAULT_DB))
    p.add_argument("--google", type=int, default=200)
    p.add_argument("--microsoft", type=int, default=100)
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--renew-minutes", type=float, default=5.0)
    p.add_argument("--safety-poll", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()

    from cryptography.fernet import Fernet

    from followup.company.admin import init_database
    from followup.company.crypto import KEY_ENV
    from followup.company.queue import conninfo
    from followup.company.store import AccountStore
    from followup.ledger.connect import make_engine
    from followup.push import schema
    from followup.push.admin import main_push_admin
    from followup.push.ingest import Ingest
    from followup.push.renew import PushSettings
    from microsoft.tls import TestCA
    from push.conftest import Served
    from push.fake_google_push import FakeGooglePush
    from push.fake_graph_push import AppAuthority, FakeGraphPush, self_signed_certificate

    os.environ.setdefault(KEY_ENV, Fernet.generate_key().decode())
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would override the fake's CA
        os.environ.pop(name, None)
    tag = f"bench_push_{uuid.uuid4().hex[:8]}"
    url = f"{args.database}?options=-csearch_path%3D{tag}&application_name={tag}"
    admin = psycopg.connect(conninfo(args.database), autocommit=True)
    admin.execute(f"CREATE SCHEMA {tag}")
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / tag
    folder.mkdir()
    google = FakeGooglePush(user="alice@example.com").start()
    ca = TestCA(folder)
    graph = FakeGraphPush(ca, me="u0@contoso.example")
    authority = AppAuthority(ca, accept_token=graph.tokens.add)
    graph.authority = authority
    pem = self_signed_certificate()
    (folder / "app.pem").write_text(pem)
    authority.register_app(CLIENT_ID, pem, ROLES)
    results: dict[str, Any] = {"google_accounts": args.google,
                               "microsoft_accounts": args.microsoft, "days": args.days}
    engine = make_engine(url)
    served = None
    try:
        init_database(url, engine)
        schema.ensure_schema(engine)
        store = AccountStore(engine)
        store.add_tenant("g", {})
        token = json.dumps(google.authorized_user_info()).encode()
        for i in range(args.google):
            store.add_account("g", {"kind": "google", "name": f"g{i:05d}",
                                    **google.account_urls()}, credential={".json": token})
        members = [f"u{i}@contoso.example" for i in range(args.microsoft)]
        graph.add_group("all@contoso.example", members)
        out, err = io.StringIO(), io.StringIO()
        common = ["--database", url]
        assert main_push_admin([*common, "tenant", "add", "microsoft", "--tenant", "m",
                                "--tenant-id", authority.tenant_id, "--client-id", CLIENT_ID,
                                "--certificate", str(folder / "app.pem"), "--check-user",
                                members[0] if members else "u0@contoso.example",
                                "--authority-url", authority.url, "--graph-url", graph.url,
                                "--ca-bundle", str(ca.bundle)], out, err) == 0, err.getvalue()
        if members:
            assert main_push_admin([*common, "sync-users", "--tenant", "m", "--group",
                                    "all@contoso.example"], out, err) == 0, err.getvalue()
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM procrastinate_jobs")

        ingest = Ingest(url, engine, PushSettings(gmail_topic="projects/p/topics/gmail"))
        assert ingest._queue is not None
        ingest._queue.open()
        served = Served(ingest)
        renewer = ingest.renewer
        renewer.settings.public_url = served.url

        # --- 1. idle: simulated days of renewal ----------------------------------------------
        t0 = datetime.now(UTC)
        sim = {"now": t0}
        renewer.clock = lambda: sim["now"]
        graph.clock = lambda: sim["now"]
        google.now = lambda: sim["now"].timestamp()
        started = time.monotonic()
        cpu0 = time.process_time()
        first = renewer.run_once()
        assert first is not None and first.failed == 0, first
        setup_google, setup_graph = len(google.log), len(graph.log)
        setup_tokens = authority.grants.count("client_credentials")
        rounds = int(args.days * 1440 / args.renew_minutes)
        failed = 0
        for n in range(1, rounds + 1):
            sim["now"] = t0 + timedelta(minutes=n * args.renew_minutes)
            report = renewer.run_once()
            failed += report.failed if report else 0
        idle_cpu = time.process_time() - cpu0
        google_req = len(google.log) - setup_google
        graph_req = (len(graph.log) - setup_graph +
                     authority.grants.count("client_credentials") - setup_tokens)
        minutes = args.days * 1440
        per_g = google_req / max(1, args.google) / minutes
        per_m = graph_req / max(1, args.microsoft) / minutes
        poll = 1.0 / args.safety_poll
        results["idle"] = {
            "renewal_rounds": rounds, "renewal_failures": failed,
            "wall_seconds": round(time.monotonic() - started, 1),
            "cpu_seconds_renewal_process": round(idle_cpu, 2),
            "setup_requests": {"google": setup_google, "graph": setup_graph},
            "google_renewal_requests": google_req,
            "graph_renewal_requests": graph_req,
            "google_req_per_account_idle_minute_channels": round(per_g, 5),
            "graph_req_per_account_idle_minute_channels": round(per_m, 5),
            "safety_poll_req_per_account_idle_minute": round(poll, 5),
            "google_total_req_per_account_idle_minute": round(per_g + poll, 5),
        }
        # Back to real time for the lag phase: renew once so every channel is live now.
        sim["now"] = datetime.now(UTC) + timedelta(minutes=1)
        renewer.clock = graph.clock = lambda: datetime.now(UTC)
        google.now = time.time
        renewer.run_once()

        # --- 2. lag: notices to queued syncs -------------------------------------------------
        lags: list[float] = []
        duplicates = 0
        accounts = args.google + args.microsoft
        for _ in range(args.rounds):
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM procrastinate_jobs")
            sent = time.time()
            # Each account notified twice: Graph resends, Google pings on every change.
            for _dup in range(2):
                google.ping_calendar()
                for sid in list(graph.subscriptions):
                    if graph.subscriptions[sid]["resource"].endswith("/events"):
                        graph.notify(sid)
            deadline = time.monotonic() + 60
            seen: dict[str, float] = {}
            while len(seen) < accounts and time.monotonic() < deadline:
                with engine.begin() as conn:
                    rows = conn.exec_driver_sql(
                        "SELECT j.queueing_lock, count(*), min(EXTRACT(EPOCH FROM e.at)) "
                        "FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = "
                        "j.id AND e.type = 'deferred' GROUP BY j.queueing_lock").all()
                for lock, count, at in rows:
                    if lock not in seen:
                        seen[lock] = float(at) - sent
                    duplicates = max(duplicates, int(count) - 1)
                time.sleep(0.05)
            lags += list(seen.values())
            results.setdefault("lag_missing", 0)
            results["lag_missing"] += accounts - len(seen)
        results["lag"] = {"notices": 2 * accounts * args.rounds, "accounts_woken": len(lags),
                          "p50_seconds": round(pct(lags, 0.5), 3),
                          "p95_seconds": round(pct(lags, 0.95), 3),
                          "max_seconds": round(max(lags), 3) if lags else None,
                          "jobs_per_account_max": duplicates + 1}
    finally:
        if served is not None:
            served.close()
            if served.ingest._queue is not None:
                served.ingest._queue.close()
        engine.dispose()
        google.stop()
        graph.close()
        authority.close()
        admin.execute(f"DROP SCHEMA {tag} CASCADE")
        admin.close()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
