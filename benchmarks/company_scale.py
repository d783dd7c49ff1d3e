"""Company mode at scale: N accounts, procrastinate workers, one PostgreSQL.

    python benchmarks/company_scale.py                      # 200 accounts, about 10 minutes
    python benchmarks/company_scale.py --accounts 1000 --chaos --kill-every 180 \
        --chaos-seconds 420 --pg-restart 'pg_ctlcluster 15 main restart'
    python benchmarks/company_scale.py --providers local    # the file-backed stand-ins
    python benchmarks/company_scale.py --push --past 0.1 --lead 120 --poll-seconds 1

What runs: `--workers` real worker processes (company.worker.run_worker, `--concurrency`
syncs each) on a schema of its own in the local PostgreSQL (dropped afterwards).

`--providers http` (the default): half the accounts are Google accounts, half Microsoft
ones, served by the many-user asyncio fakes of benchmarks/scalefakes/ (serve.py: one process,
one event loop, each user with state of its own, every request waiting `--latency` seconds
in asyncio.sleep, so 100 ms of "network" costs neither CPU nor a thread). The workers run
the real providers (google-api-python-client, msal, requests) against them, so the clients'
CPU is in the workers' figures; the fake's own CPU is reported apart. Provider requests are
counted by the fake; the chaos switches (429 storm, revoked grants) are the fake's; the end
check compares the ledger with what each fake account holds. Without graph.py, every
account is a Google one (said in the output). Tenants hold `--tenant-size` accounts each:
a tenant's request budget (company/bucket.py: Google 10 syncs/s) is per tenant, and one
tenant of thousands would measure that budget instead of the workers.

`--providers local`: local-provider accounts (vdir calendar, Maildir, vCards) behind a
wrapper that makes every provider call wait `--latency` seconds and counts it; the providers'
client-library CPU is not in those figures (benchmarks/google_idle_cpu.py measures it).

Meetings have 1-3 external people 30 % of the time. Phases:

1. backfill: every account's first sync (jobs/s, CPU); each account has a meeting days
   ahead, and a `--past` share one that ended in the last two days (written up now);
2. steady: meetings on random accounts end during a `--steady` second window at
   `--steady-rate` a minute per 1,000 accounts; lag from due time (meeting end, grace 0) to
   draft created, p50/p95/p99. These and the burst's meetings are added after the backfill
   and each account told to look once (as a push notice or its safety poll would);
3. burst: `--burst` meetings (default min(500, N/2)) end within one minute; the same lag;
4. idle: nothing happens for `--idle` seconds (the background: sweeps, heartbeats, queue
   polling), then one forced safety-poll round (`--idle-round` accounts, default all):
   provider requests, syncs and CPU per idle sync (workers and PostgreSQL separately: /proc
   of the worker pids and of the schema's backends), scaled to every account polled once
   per `--safety-poll` minutes;
5. chaos (--chaos): a meeting on every account ends while a worker is SIGKILLed every
   `--kill-every` seconds (and restarted), PostgreSQL restarts once (`--pg-restart
   COMMAND`; without it every session of the benchmark's is cut), 10 % of the accounts get
   429s with Retry-After for a minute, 1 % have their grant revoked. Then every account's
   writes are checked against what the provider holds: 0 duplicates, 0 lost.

`--push` (with --providers http): push mode. A `followup ingest` process listens on a local
port (its public URL), its first renewal round opens every account's channels at the fakes
(a Calendar channel per Google account; Graph subscriptions on events and messages per
Microsoft one, with the tenant's app grant, or `--push-graph delegated` with each account's
own sign-in), and the run waits for all of them. The steady and burst meetings are then
added at the fakes over the first half of `--lead`, nobody is told to look: the fakes' notices
(Calendar pings, Graph change notifications; also those for followup's own writes, as the
providers send them) reach ingest, which queues the syncs. Workers use `--safety-poll`
minutes as their safety poll and record each sync's times. Reported besides the above:
notices delivered by kind and cause, notice -> sync lag (from the fake's send time to the
start and to the end of the first sync of that account that started after it), and provider
requests per account per idle minute: the quiet window's, the safety poll's, and the
channels' renewals amortised over their lifetime. Gmail push is run too: ingest opens a
Gmail watch per Google account on the fakes' Pub/Sub topic and pulls their subscription
(--gmail-topic, --pubsub-subscription, --pubsub-endpoint: scalefakes/pubsub.py); during the
steady window a `--push-mail-share` of the Google accounts get an inbound mail at a random
time, which Gmail publishes, and its notice ("gmail/mail") is in the same notice tables and
notice -> sync lag as the Calendar and Graph ones.

The scale series of docs/scaling.md:

    for n in 1000 2500 5000 10000; do python benchmarks/company_scale.py --accounts $n \
        --past 0.1 --idle-round 2000 --json /tmp/scale-$n.json; done
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import mailbox
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

DEFAULT_DB = "postgresql+psycopg://postgres@localhost:5432/test"
TICK = os.sysconf("SC_CLK_TCK")


# --- the worker side: a latency-injecting provider wrapper ----------------------------------

_CALLS = {"calls": 0, "cycles": 0}
_LOCK = threading.Lock()
_PROVIDER_METHODS = {"changes", "busy", "last_interactions", "ensure", "state", "remove",
                     "lookup"}


class _Slow:
    """Every provider call waits `latency` seconds and is counted; faults by account."""

    def __init__(self, inner: Any, latency: float, faults: _Faults, account: str) -> None:
        self._inner, self._latency, self._faults, self._account = inner, latency, faults, account

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in _PROVIDER_METHODS or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                _CALLS["calls"] += 1
            self._faults.check(self._account)
            time.sleep(self._latency)
            return attr(*args, **kwargs)

        return call


class _Faults:
    """Chaos switches, read from files the benchmark writes (workers are other processes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read_at = 0.0
        self.storm: set[str] = set()
        self.revoked: set[str] = set()

    def check(self, account: str) -> None:
        from followup.errors import AuthError, TransientError

        if time.monotonic() - self._read_at > 1.0:
            self._read_at = time.monotonic()
            self.storm = _names(self.folder / "storm")
            self.revoked = _names(self.folder / "revoked")
        if account in self.revoked:
            raise AuthError("invalid_grant: the grant was revoked (benchmark)")
        if account in self.storm:
            raise TransientError("429 Too Many Requests (benchmark)", retry_after=60)


def _names(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


_SYNCS: list[list[Any]] = []  # [account, reason, start, end] (wall clock), with --push


def _record_syncs() -> None:
    """Each sync's start and end, kept for the benchmark (push mode: notice -> sync lag,
    matched with the fake's send times). Instrumentation only: Worker.sync is wrapped."""
    from followup.company.worker import Worker

    inner = Worker.sync

    def timed(self: Worker, account: str, reason: str) -> str:
        start = time.time()
        try:
            return inner(self, account, reason)
        finally:
            with _LOCK:
                _SYNCS.append([account, reason, start, time.time()])

    Worker.sync = timed  # type: ignore[method-assign]


def run_bench_worker(url: str, folder: Path, latency: float, concurrency: int,
                     providers: str = "local", poll_seconds: float = 5.0,
                     safety_poll: float | None = None, record: bool = False) -> int:
    import structlog

    from followup.company.worker import run_worker
    from followup.log import configure_logging
    from followup.providers import open_account

    configure_logging(json=True, level="warning")
    faults = _Faults(folder)

    def opener(cfg: Any, config: Any) -> Any:
        account = open_account(cfg, config)
        with _LOCK:
            _CALLS["cycles"] += 1
        if providers == "http":  # the fake waits, counts and fails: nothing to wrap
            return account
        wrap = lambda x: _Slow(x, latency, faults, cfg.name)  # noqa: E731
        return dataclasses.replace(
            account, sources=[wrap(s) for s in account.sources],
            availability=wrap(account.availability), mail=wrap(account.mail),
            contacts=wrap(account.contacts), drafts=wrap(account.drafts),
            blocks=wrap(account.blocks),
            address_book=wrap(account.address_book) if account.address_book else None)

    out = folder / "calls" / f"{os.getpid()}.json"
    out.parent.mkdir(exist_ok=True)

    if record:
        _record_syncs()
    synced = folder / "syncs" / f"{os.getpid()}.jsonl"
    synced.parent.mkdir(exist_ok=True)

    def flush() -> None:
        while True:
            time.sleep(1.0)
            with _LOCK:
                data = json.dumps(_CALLS)
                done = _SYNCS[:]
                del _SYNCS[:]
            tmp = out.with_suffix(".tmp")
            tmp.write_text(data)
            tmp.replace(out)
            if done:
                with synced.open("a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in done)

    threading.Thread(target=flush, daemon=True).start()
    structlog.get_logger("bench").warning("bench.worker", pid=os.getpid())
    extra: dict[str, Any] = {}
    if safety_poll is not None:
        extra["safety_poll"] = timedelta(minutes=safety_poll)
    return run_worker(url, concurrency=concurrency, opener=opener, heartbeat=5.0,
                      stalled_after=15.0, periodic_seconds=60, poll_seconds=poll_seconds,
                      **extra)


# --- the benchmark side ---------------------------------------------------------------------


def _calendar(root: Path, name: str, meetings: list[tuple[str, datetime, int]],
              rng: random.Random) -> None:
    from followup.demo.workspace import Person, make_event

    for uid, end, externals in meetings:
        people = [Person(f"Colleague {uid}", f"colleague-{uid}@bench.example")]
        people += [Person(f"Guest {uid} {j}", f"guest{j}-{uid}@co{rng.randrange(10**6)}.example")
                   for j in range(externals)]
        start = end - timedelta(minutes=30)
        ev = make_event(f"{uid}@{name}.bench", f"Meeting {uid}", start, end, people,
                        description=f"Notes {uid}.")
        (root / "calendar" / f"{uid}.ics").write_bytes(ev.to_ical())


def _mailbox(root: Path) -> None:
    (root / "calendar").mkdir(parents=True, exist_ok=True)
    for d in ("contacts", "followups"):
        (root / d).mkdir(exist_ok=True)
    md = mailbox.Maildir(root / "Maildir", create=True)
    md.add_folder("Sent")
    md.add_folder("Drafts")


def _externals(rng: random.Random) -> int:
    return rng.randint(1, 3) if rng.random() < 0.3 else 0


class FakeServer:
    """benchmarks/scalefakes/serve.py in a process of its own, driven over its JSON API."""

    def __init__(self, folder: Path, latency: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        serve = Path(__file__).resolve().parent / "scalefakes" / "serve.py"
        self.log = (folder / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(serve), "--latency", str(latency), "--dir", str(folder)],
            stdout=subprocess.PIPE, stderr=self.log)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"serve.py exited before it listened: see {folder / 'serve.log'}")
        self.info: dict[str, Any] = json.loads(line)

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.info["control"] + path, data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.loads(resp.read())

    def counts(self) -> dict[str, Any]:
        return self.call("/counts")  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("/stop", {})
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _plan(i: int, rng: random.Random, t0: datetime, past: float
          ) -> list[tuple[str, datetime, int]]:
    """Account i's meetings at set-up: (uid prefix + i, end, external people). One days
    ahead; for a `past` share of the accounts one that ended in the last two days (their
    first sync writes its contact, draft and block). Externals 30 % of the time."""
    meetings = [(f"later{i}", t0 + timedelta(days=rng.uniform(1, 10)), _externals(rng))]
    if rng.random() < past:
        meetings.append((f"past{i}", t0 - timedelta(days=rng.uniform(0.2, 2)), _externals(rng)))
    return meetings


def _meeting_json(name: str, email: str, uid: str, end: datetime, externals: int,
                  rng: random.Random) -> dict[str, Any]:
    """One meeting for the fake, as _calendar writes it for a local account."""
    attendees = [[f"Colleague {uid}", f"colleague-{uid}@bench.example"]]
    attendees += [[f"Guest {uid} {j}", f"guest{j}-{uid}@co{rng.randrange(10**6)}.example"]
                  for j in range(externals)]
    return {"user": name, "uid": f"{uid}@{name}.bench", "start": (
        end - timedelta(minutes=30)).isoformat(), "end": end.isoformat(),
            "organizer": [f"User {name}", email], "attendees": attendees,
            "summary": f"Meeting {uid}", "description": f"Notes {uid}."}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = f"bench_{uuid.uuid4().hex[:10]}"
        self.url = (f"{args.database}?options=-csearch_path%3D{self.tag}"
                    f"&application_name={self.tag}")
        self.folder = Path(tempfile.mkdtemp(prefix="followup-bench-"))
        self.workers: list[subprocess.Popen[bytes]] = []
        self.results: dict[str, Any] = {"accounts": args.accounts, "workers": args.workers,
                                        "concurrency": args.concurrency,
                                        "poll_seconds": args.poll_seconds,
                                        "latency_ms": args.latency * 1000,
                                        "providers": args.providers}
        self.fake: FakeServer | None = None
        self.ingest: subprocess.Popen[bytes] | None = None
        self.notices_from = ""  # the fake's /notices offsets already read
        self.notices: list[dict[str, Any]] = []
        self.kinds: dict[str, str] = {}  # account -> provider kind
        self.rng = random.Random(7)
        self.stopping = threading.Event()
        self.cpu_lock = threading.Lock()
        self.seen_pg: dict[int, float] = {}
        self.seen_workers: dict[int, float] = {}
        self.names = [f"acct{i:05d}" for i in range(args.accounts)]

    # --- set-up -----------------------------------------------------------------------------

    def admin(self) -> psycopg.Connection[Any]:
        from followup.company.queue import conninfo

        return psycopg.connect(conninfo(self.args.database), autocommit=True)

    def setup(self, t0: datetime) -> None:
        from followup.company.admin import init_database
        from followup.company.crypto import KEY_ENV
        from followup.company.store import AccountStore
        from followup.ledger.connect import make_engine

        os.environ.setdefault(KEY_ENV, "jFq5M1hKXoFz7d1nM9d7kZl0iDq1o2a2j3yC4bV5x6E=")
        with self.admin() as conn:
            conn.execute(f"CREATE SCHEMA {self.tag}")
        engine = make_engine(self.url)
        init_database(self.url, engine)
        self.engine = engine
        store = AccountStore(engine)
        from followup.demo.workspace import ADA

        # make_event's organizer is the demo's user: the bench user is her.
        settings = {"user": {"name": "Ada Lovelace", "addresses": [ADA.email], "domains":
                             ["bench.example"], "timezone": "UTC"},
                    "schedule": {"grace_minutes": 0, "working_days": ["mon", "tue", "wed",
                                 "thu", "fri", "sat", "sun"], "day_start": "00:00",
                                 "day_end": "23:59"}}
        a = self.args
        if a.providers == "http":
            self.setup_http(t0, store, settings)
            return
        for tenant in ("google-co", "microsoft-co"):  # half and half, a bucket each
            store.add_tenant(tenant, settings)
        started = time.monotonic()
        for i, name in enumerate(self.names):
            root = self.folder / name
            _mailbox(root)
            meetings = _plan(i, self.rng, t0, a.past)
            _calendar(root, name, meetings, self.rng)
            config = {"kind": "local", "name": name, "calendars": [str(root / "calendar")],
                      "maildir": str(root / "Maildir"), "contacts": str(root / "contacts"),
                      "followups": str(root / "followups")}
            store.add_account("google-co" if i % 2 == 0 else "microsoft-co", config)
        self.results["setup_seconds"] = round(time.monotonic() - started, 1)

    def plan_phases(self) -> list[str]:
        """After the backfill: the steady window's meetings (`--steady-rate` ending a minute
        per 1,000 accounts, on random accounts) and the burst's (`--burst` ending within one
        minute after it), each account told to look once (as a push notice or its safety
        poll would: a meeting is known before it ends). With --push nobody is told: the
        meetings are added over the first half of `--lead` and the fake's notices wake the
        syncs. Returns the accounts told (or to be woken)."""
        a = self.args
        start = datetime.now(UTC) + timedelta(seconds=a.lead)
        self.steady = (start, start + timedelta(seconds=a.steady))
        burst_at = self.steady[1] + timedelta(seconds=30)
        self.burst = (burst_at, burst_at + timedelta(seconds=60))
        steady_n = max(1, round(a.steady_rate * a.accounts / 1000 * a.steady / 60))
        burst_n = a.burst if a.burst is not None else min(500, a.accounts // 2)
        plan = [(name, f"steady{i}", self.steady[0] + timedelta(seconds=self.rng.uniform(
            0, a.steady)), _externals(self.rng))
            for i, name in enumerate(self.rng.sample(self.names, min(steady_n, a.accounts)))]
        plan += [(name, f"burst{i}", self.burst[0] + timedelta(seconds=self.rng.uniform(
            0, 60)), self.rng.randint(1, 3))
            for i, name in enumerate(self.rng.sample(self.names, min(burst_n, a.accounts)))]
        if a.push:
            self.add_meetings_spread(plan)
            self.plan_mail()
        else:
            self.add_meetings(plan)
        self.results["steady_meetings"], self.results["burst_meetings"] = steady_n, burst_n
        told = sorted({name for name, *_ in plan})
        if a.push:  # the fake's notices tell them: nothing to do here
            return told
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE company_accounts SET next_check_at = now() "
                              "WHERE name = ANY(:names)"), {"names": told})
        return told

    def add_meetings(self, plan: list[tuple[str, str, datetime, int]]) -> None:
        if self.fake is not None:
            for k in range(0, len(plan), 2000):
                self.fake.call("/meetings", {"meetings": [
                    _meeting_json(name, f"{name}@bench.example", uid, end, ext, self.rng)
                    for name, uid, end, ext in plan[k:k + 2000]]})
            return
        for name, uid, end, ext in plan:
            _calendar(self.folder / name, name, [(uid, end, ext)], self.rng)

    def setup_http(self, t0: datetime, store: Any, settings: dict[str, Any]) -> None:
        """Half Google, half Microsoft accounts on the fakes; the same meetings."""
        import base64

        a = self.args
        started = time.monotonic()
        self.fake = fake = FakeServer(self.folder / "fake", a.latency)
        graph = fake.info.get("microsoft") is not None
        if not graph:
            print("note: benchmarks/scalefakes/graph.py is not there: every account is a "
                  "Google one", file=sys.stderr)
        self.results["graph"] = graph
        for i, name in enumerate(self.names):
            self.kinds[name] = "microsoft" if graph and i % 2 else "google"
        tenants: set[str] = set()
        chunk = 1000
        for k in range(0, len(self.names), chunk):
            names = self.names[k:k + chunk]
            accounts: dict[str, Any] = {}
            for kind in ("google", "microsoft"):
                mine = [[n, f"{n}@bench.example"] for n in names if self.kinds[n] == kind]
                if mine:
                    accounts.update(fake.call("/users", {"kind": kind, "users": mine})[
                        "accounts"])
            meetings = []
            for j, name in enumerate(names):
                i = k + j
                kind = self.kinds[name]
                tenant = f"{kind}-co-{i // a.tenant_size:03d}"
                if tenant not in tenants:
                    store.add_tenant(tenant, settings)
                    tenants.add(tenant)
                acct = accounts[name]
                store.add_account(tenant, acct["config"], user={
                    "name": f"User {name}", "addresses": [f"{name}@bench.example"]},
                    credential={s: base64.b64decode(v) for s, v in acct[
                        "credential"].items()})
                meetings += [_meeting_json(name, f"{name}@bench.example", uid, end, ext,
                                           self.rng)
                             for uid, end, ext in _plan(i, self.rng, t0, a.past)]
            fake.call("/meetings", {"meetings": meetings})
        self.results["tenants"] = len(tenants)
        if a.push:
            self.push_grants(tenants)
        self.results["setup_seconds"] = round(time.monotonic() - started, 1)

    def start_worker(self) -> None:
        cmd = [sys.executable, __file__, "worker", "--database", self.url, "--dir",
               str(self.folder), "--latency", str(self.args.latency), "--concurrency",
               str(self.args.concurrency), "--providers", self.args.providers,
               "--poll-seconds", str(self.args.poll_seconds)]
        if self.args.push:  # the safety poll as asked, and each sync's times for the lag
            cmd += ["--safety-poll", str(self.args.safety_poll), "--record-syncs"]
        log = (self.folder / f"worker-{len(self.workers)}.log").open("wb")
        with log:
            self.workers.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    # --- push mode ----------------------------------------------------------------------------

    def push_grants(self, tenants: set[str]) -> None:
        """The push tables; with `--push-graph app`, an app registration at the fake per
        Microsoft tenant, stored as `followup admin tenant add microsoft` stores its grant
        (Graph subscriptions then go with the tenant's app token, as in tests/push);
        `delegated`: none, each account subscribes with its own sign-in."""
        from followup.push import schema as push_schema
        from followup.push.orgstore import OrgGrant, OrgStore

        assert self.fake is not None
        push_schema.ensure_schema(self.engine)
        if self.args.push_graph != "app":
            return
        orgs = OrgStore(self.engine)
        for tenant in sorted(t for t in tenants if t.startswith("microsoft")):
            credential = self.fake.call("/apps", {"tenant": tenant})["credential"]
            orgs.save(OrgGrant(tenant, "microsoft", {"account": {}}, credential))

    def start_push(self) -> dict[str, Any]:
        """`followup ingest` on a local port (its public URL: no proxy here), whose first
        renewal round opens every account's channels: a Calendar channel per Google
        account, Graph subscriptions on events and messages per Microsoft one (each after
        the fake's validation handshake). Waits for all of them; what that cost."""
        import socket

        assert self.fake is not None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        # requests lets these override a session's CA (msal's app session): the fake's CA,
        # named by each credential, must be the one trusted.
        env = {k: v for k, v in os.environ.items()
               if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        log = (self.folder / "ingest.log").open("wb")
        with log:
            # Gmail: the fakes' topic for the watches, their Pub/Sub for the pulls.
            info = self.fake.info
            self.ingest = subprocess.Popen(
                [sys.executable, "-m", "followup", "ingest", "--database", self.url, "--listen",
                 f"127.0.0.1:{port}", "--public-url", url, "--renew-seconds",
                 str(self.args.renew_seconds), "--gmail-topic", info["gmail_topic"],
                 "--pubsub-subscription", info["pubsub_subscription"], "--pubsub-endpoint",
                 info["pubsub"]], stdout=log, stderr=subprocess.STDOUT, env=env)
        # Two channels per account: a Calendar channel and a Gmail watch, or Graph's two.
        want = 2 * len(self.names)
        before, started = self.fake.counts(), time.monotonic()
        have = 0
        while have < want:
            if self.ingest.poll() is not None:
                raise SystemExit(f"followup ingest exited: see {self.folder / 'ingest.log'}")
            if time.monotonic() - started > 600 + self.args.accounts:
                print(f"note: {have} of {want} channels after {time.monotonic() - started:.0f} "
                      "s; going on", file=sys.stderr)
                break
            time.sleep(1)
            have = self.scalar("SELECT count(*) FROM push_channels") or 0
        after = self.fake.counts()
        routes: dict[str, int] = {}
        for kind in ("google", "microsoft"):
            for route, n in after.get(kind, {}).get("routes", {}).items():
                k = n - before.get(kind, {}).get("routes", {}).get(route, 0)
                if k:
                    routes[f"{kind}:{route}"] = k
        with self.engine.begin() as conn:
            life = dict(conn.execute(text(
                "SELECT kind, avg(EXTRACT(EPOCH FROM expires_at - renewed_at)) "
                "FROM push_channels GROUP BY kind")).all())
        return {"seconds": round(time.monotonic() - started, 1), "channels": have,
                "expected": want, "requests": after["requests"] - before["requests"],
                "routes": routes, "lifetime_minutes": {k: round(float(v) / 60, 1)
                                                        for k, v in life.items()}}

    def add_meetings_spread(self, plan: list[tuple[str, str, datetime, int]]) -> None:
        """Push mode: the phases' meetings are added in 20 slices over the first half of
        `--lead` (people create meetings over time, and each slice's notices go out as the
        fake makes the change), not as one block of thousands of wake-ups."""
        slices = 20
        step = max(1, -(-len(plan) // slices))
        pause = self.args.lead / 2 / slices
        for k in range(0, len(plan), step):
            self.add_meetings(plan[k:k + step])
            time.sleep(pause)

    def plan_mail(self) -> None:
        """Push mode: `--push-mail-share` of the Google accounts get an inbound mail at a
        random time in the steady window (a thread delivers them at the fake), so Gmail's
        notices through Pub/Sub are in the run; nobody is told to look."""
        google = [n for n in self.names if self.kinds[n] == "google"]
        k = min(len(google), round(self.args.push_mail_share * len(google)))
        start, end = self.steady
        span = (end - start).total_seconds()
        plan = sorted((start + timedelta(seconds=self.rng.uniform(0, span)), name)
                      for name in self.rng.sample(google, k))
        self.results["push_mails"] = len(plan)
        if plan:
            threading.Thread(target=self.deliver_mail, args=(plan,), daemon=True).start()

    def deliver_mail(self, plan: list[tuple[datetime, str]]) -> None:
        assert self.fake is not None
        for when, name in plan:
            if self.stopping.wait(max(0.0, (when - datetime.now(UTC)).total_seconds())):
                return
            self.fake.call("/mail", {"mails": [{"user": name, "from": "client@firm1.example",
                                                "subject": "A question"}]})

    def read_notices(self) -> list[dict[str, Any]]:
        assert self.fake is not None
        got = self.fake.call(f"/notices?since={self.notices_from}")
        self.notices += got["notices"]
        self.notices_from = got["next"]
        return self.notices

    def sync_times(self) -> dict[str, list[tuple[float, float, str]]]:
        """Each account's syncs (start, end, reason), from the workers' records."""
        out: dict[str, list[tuple[float, float, str]]] = {}
        for path in (self.folder / "syncs").glob("*.jsonl"):
            for line in path.read_text().splitlines():
                account, reason, start, end = json.loads(line)
                out.setdefault(account, []).append((start, end, reason))
        for runs in out.values():
            runs.sort()
        return out

    def push_results(self, quiet: float, quiet_calls: int) -> dict[str, Any]:
        """Notices delivered; notice -> sync lag (from the fake's send time to the start
        and to the end of the first sync of that account that started after it: the sync
        that reads the change); provider requests per account per idle minute, push mode."""
        import bisect

        assert self.fake is not None
        time.sleep(2)  # the workers' records are flushed every second
        notices = self.read_notices()
        syncs = self.sync_times()
        lags: dict[str, dict[str, list[float]]] = {}
        unanswered = 0
        for n in notices:
            if n["cause"] == "sync" or not 200 <= n["status"] < 300:
                continue
            runs = syncs.get(n["user"], [])
            i = bisect.bisect_left(runs, (n["sent"],))
            if i == len(runs):
                unanswered += 1
                continue
            start, end, _ = runs[i]
            for group in (n["cause"], "all"):
                d = lags.setdefault(group, {"start": [], "end": []})
                d["start"].append(start - n["sent"])
                d["end"].append(end - n["sent"])
        counts = self.fake.counts()
        summary = {kind: counts[kind]["notices"] for kind in ("google", "microsoft")
                   if kind in counts}
        lag = {group: {f"{edge}_{p}": _pct(sorted(v), int(p[1:])) for edge, v in d.items()
                       for p in ("p50", "p95", "p99")} | {"n": len(d["start"]),
                                                          "max_end": round(max(d["end"]), 1)}
               for group, d in lags.items()}
        return {"notices": summary, "lag": lag, "unanswered": unanswered,
                "pubsub": counts.get("google", {}).get("pubsub"),
                "woken_syncs": sum(1 for runs in syncs.values() for r in runs
                                   if r[2].startswith("push:")),
                "idle": self.push_idle(quiet, quiet_calls),
                "ingest_cpu_s": round(_proc_cpu(self.ingest.pid), 1) if self.ingest else None}

    def push_idle(self, quiet: float, quiet_calls: int) -> dict[str, Any]:
        """Provider requests per account per idle minute with push: what the quiet window
        measured (sweeps and heartbeats do not reach providers: 0 unless something woke),
        plus the safety poll (the idle round's requests per sync over `--safety-poll`
        minutes), plus the channels' renewals amortised over their lifetime: a Calendar
        channel is replaced in the last quarter of its life (a token refresh, a watch and a
        stop: the setup's Google token and Calendar requests per account, plus the stop), a
        Gmail watch renewed daily or at half-life if sooner (a token refresh and a
        users.watch), a Graph subscription renewed at half-life (one PATCH each; the app
        token, one per tenant and hour, is left out: under 1/100 of a request per account
        per renewal)."""
        a = self.args
        setup = self.results["push_setup"]
        life = setup["lifetime_minutes"]
        google = [n for n in self.names if self.kinds[n] == "google"]
        microsoft = [n for n in self.names if self.kinds[n] == "microsoft"]
        g_setup = sum(v for k, v in setup["routes"].items()
                      if k.startswith(("google:calendar.", "google:oauth2.")))
        per_calendar = (g_setup / max(1, len(google)) + 1) / max(1e-9, 0.75 * life.get(
            "calendar", 1e9))
        per_gmail = 2 / max(1e-9, min(24 * 60, 0.5 * life.get("gmail", 1e9)))
        per_google = per_calendar + per_gmail
        per_graph = sum(1 / max(1e-9, 0.5 * life.get(k, 1e9))
                        for k in ("graph_events", "graph_messages"))
        renewal = (per_google * len(google) + per_graph * len(microsoft)) / len(self.names)
        quiet_rate = quiet_calls / len(self.names) / (quiet / 60)
        safety = self.results["idle"]["calls_per_idle_sync"] / a.safety_poll
        return {"quiet": round(quiet_rate, 4), "safety_poll": round(safety, 4),
                "safety_poll_minutes": a.safety_poll, "renewals": round(renewal, 5),
                "renewal_google": round(per_google, 5), "renewal_gmail": round(per_gmail, 5),
                "renewal_graph": round(per_graph, 5),
                "total": round(quiet_rate + safety + renewal, 4)}

    # --- measurements -----------------------------------------------------------------------

    def sample(self) -> None:
        """Every second: the CPU so far of each worker process and each of the schema's
        PostgreSQL backends, kept per pid, so a killed worker or a closed connection keeps
        what it used until its last sample."""
        while not self.stopping.is_set():
            try:
                self._sample()
            except psycopg.OperationalError:  # PostgreSQL restarted (--pg-restart)
                self.stopping.wait(1.0)

    def _sample(self) -> None:
        with self.admin() as conn:
            while not self.stopping.is_set():
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                    (self.tag,))]
                with self.cpu_lock:
                    for pid in pids:
                        self.seen_pg[pid] = max(self.seen_pg.get(pid, 0.0), _proc_cpu(pid))
                    for w in self.workers:
                        self.seen_workers[w.pid] = max(self.seen_workers.get(w.pid, 0.0),
                                                       _proc_cpu(w.pid))
                self.stopping.wait(1.0)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: worker processes, the schema's PostgreSQL backends, and (with
        --providers http) the fake's process, as it reports its own."""
        time.sleep(1.1)  # one fresh sample
        with self.cpu_lock:
            out = {"workers": sum(self.seen_workers.values()),
                   "postgres": sum(self.seen_pg.values())}
        if self.fake is not None:
            out["fake"] = float(self.fake.counts()["cpu_s"])
        return out

    def calls(self) -> dict[str, int]:
        """Provider calls and syncs so far. With --providers http a call is one HTTP request
        the fake answered (token requests included)."""
        total = {"calls": 0, "cycles": 0}
        for path in (self.folder / "calls").glob("*.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for k in total:
                total[k] += data.get(k, 0)
        if self.fake is not None:
            total["calls"] = int(self.fake.counts()["requests"])
        return total

    def scalar(self, sql: str, **args: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(text(sql), args).scalar()

    def lag(self, prefix: str, after: datetime | None = None) -> dict[str, Any]:
        """Due time to draft created, seconds, for drafts of meetings named `prefix`*."""
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT EXTRACT(EPOCH FROM done_at - due) FROM writes WHERE kind = 'draft' "
                "AND state = 'done' AND meeting_uid LIKE :p AND due >= :after"),
                {"p": f"{prefix}%", "after": after or datetime(1970, 1, 1, tzinfo=UTC)},
            ).scalars().all()
            waiting = conn.execute(text(
                "SELECT count(*) FROM writes WHERE kind = 'draft' AND state <> 'done' AND "
                "meeting_uid LIKE :p"), {"p": f"{prefix}%"}).scalar()
        lags = sorted(float(x) for x in rows)
        return {"drafts": len(lags), "not_done": waiting, "p50": _pct(lags, 50),
                "p95": _pct(lags, 95), "p99": _pct(lags, 99), "max": lags[-1] if lags else None}

    def wait_until(self, when: datetime) -> None:
        while datetime.now(UTC) < when:
            time.sleep(min(5.0, max(0.1, (when - datetime.now(UTC)).total_seconds())))
            self.keep_workers()

    def keep_workers(self) -> None:
        for w in list(self.workers):
            if w.poll() is not None and not getattr(w, "killed_on_purpose", False):
                print(f"worker {w.pid} exited with {w.returncode}; see its log",
                      file=sys.stderr)
                w.killed_on_purpose = True  # type: ignore[attr-defined]

    # --- phases -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        a = self.args
        t0 = datetime.now(UTC) + timedelta(seconds=5)
        self.setup(t0)
        threading.Thread(target=self.sample, daemon=True).start()
        from followup.company.queue import connector_for, make_app, schedule_sync

        if a.push:
            self.results["push_setup"] = self.start_push()
        for _ in range(a.workers):
            self.start_worker()
        # Their start-up (imports, schema checks) is not the syncs' cost: wait it out.
        while (self.scalar("SELECT count(*) FROM procrastinate_workers") or 0) < a.workers:
            time.sleep(0.5)
        started = time.monotonic()
        cpu0, calls0 = self.cpu(), self.calls()
        app = make_app(connector_for(self.url))
        with app.open():  # the first syncs, queued as `admin account add` does
            for name in self.names:
                schedule_sync(app, name, "bench")
        while self.scalar("SELECT count(*) FROM company_accounts WHERE last_sync IS NULL"):
            time.sleep(1)
            self.keep_workers()
            if time.monotonic() - started > 3600:
                raise SystemExit("backfill did not finish in an hour")
        took = time.monotonic() - started
        cpu1, calls1 = self.cpu(), self.calls()
        first, last = (self.scalar(f"SELECT EXTRACT(EPOCH FROM {f}(last_sync) - "
                                   "(SELECT min(last_sync) FROM company_accounts)) "
                                   "FROM company_accounts") for f in ("min", "max"))
        self.results["backfill"] = {
            "seconds": round(took, 1),
            # Throughput once the workers run: first to last sync finished.
            "jobs_per_s": round((a.accounts - 1) / max(0.001, float(last - first)), 1),
            "worker_cpu_s": round(cpu1["workers"] - cpu0["workers"], 1),
            "postgres_cpu_s": round(cpu1["postgres"] - cpu0["postgres"], 1),
            "syncs": calls1["cycles"] - calls0["cycles"],
            "calls": calls1["calls"] - calls0["calls"]}
        if self.fake is not None:
            self.results["backfill"]["fake_cpu_s"] = round(cpu1["fake"] - cpu0["fake"], 2)
        backfill_done = datetime.now(UTC)
        told = self.plan_phases()
        while self.scalar("SELECT count(*) FROM company_accounts WHERE name = ANY(:n) "
                          "AND last_sync < :t", n=told, t=backfill_done):
            time.sleep(1)
            self.keep_workers()
            if a.push and datetime.now(UTC) > self.steady[0]:
                break  # a notice lost: said below (not woken), the run goes on
        if a.push:
            self.results["push_not_woken"] = self.scalar(
                "SELECT count(*) FROM company_accounts WHERE name = ANY(:n) AND last_sync < :t",
                n=told, t=backfill_done)
        if datetime.now(UTC) > self.steady[0]:
            print("note: telling the accounts of their meetings ran into the steady window; "
                  "raise --lead", file=sys.stderr)
        self.wait_until(self.steady[1] + timedelta(seconds=30))
        self.results["steady_lag"] = self.lag("steady", after=backfill_done)
        cpu_b, calls_b = self.cpu(), self.calls()
        self.wait_until(self.burst[1] + timedelta(seconds=45))
        self.results["burst_lag"] = self.lag("burst", after=backfill_done)
        cpu_c, calls_c = self.cpu(), self.calls()
        self.results["burst_window"] = {
            "syncs": calls_c["cycles"] - calls_b["cycles"],
            "calls": calls_c["calls"] - calls_b["calls"],
            "worker_cpu_s": round(cpu_c["workers"] - cpu_b["workers"], 1),
            "postgres_cpu_s": round(cpu_c["postgres"] - cpu_b["postgres"], 1)}
        if self.fake is not None:
            self.results["burst_window"]["fake_cpu_s"] = round(cpu_c["fake"] - cpu_b["fake"], 2)
        # Quiet: nothing due, no safety poll yet (all were synced minutes ago).
        idle_from = time.monotonic()
        time.sleep(a.idle)
        quiet = time.monotonic() - idle_from
        cpu_d, calls_d = self.cpu(), self.calls()
        background = {k: (cpu_d[k] - cpu_c[k]) / quiet for k in cpu_d}
        # One safety-poll round of every account (what each 15 minutes costs), forced now.
        round_from = datetime.now(UTC)
        started = time.monotonic()
        polled = self.names if a.idle_round is None else self.rng.sample(
            self.names, min(a.idle_round, a.accounts))
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE company_accounts SET next_check_at = now() "
                              "WHERE name = ANY(:n)"), {"n": polled})
        while self.scalar("SELECT count(*) FROM company_accounts WHERE name = ANY(:n) AND "
                          "last_sync < :t", n=polled, t=round_from):
            time.sleep(1)
            self.keep_workers()
        took = time.monotonic() - started
        time.sleep(2)  # the workers' call counters are flushed every second
        cpu_e, calls_e = self.cpu(), self.calls()
        calls = calls_e["calls"] - calls_d["calls"]
        poll = a.safety_poll * 60
        round_cpu = {k: cpu_e[k] - cpu_d[k] - background[k] * (took + 2) for k in cpu_e}
        self.results["idle"] = {
            "quiet_seconds": round(quiet), "quiet_syncs": calls_d["cycles"] - calls_c["cycles"],
            "round_seconds": round(took, 1), "round_syncs": calls_e["cycles"] - calls_d["cycles"],
            "calls_per_idle_sync": round(calls / max(1, calls_e["cycles"] - calls_d["cycles"]),
                                         2),
            "calls_per_account_minute": round(calls / len(polled) / a.safety_poll, 3),
            "worker_cpu_per_idle_sync_ms": round(
                1000 * round_cpu["workers"] / max(1, calls_e["cycles"] - calls_d["cycles"]), 1),
            "postgres_cpu_per_idle_sync_ms": round(
                1000 * round_cpu["postgres"] / max(1, calls_e["cycles"] - calls_d["cycles"]), 1),
            # All accounts polled once per safety poll, plus the quiet background.
            "worker_cores": round(background["workers"] + round_cpu["workers"] * a.accounts
                                  / len(polled) / poll, 3),
            "postgres_cores": round(background["postgres"] + round_cpu["postgres"]
                                    * a.accounts / len(polled) / poll, 3),
            "background_cores": round(background["workers"] + background["postgres"], 3)}
        if self.fake is not None:
            self.results["idle"]["fake_cpu_per_idle_sync_ms"] = round(
                1000 * round_cpu["fake"] / max(1, calls_e["cycles"] - calls_d["cycles"]), 2)
        if a.push:
            self.results["push"] = self.push_results(quiet, calls_d["calls"] - calls_c["calls"])
        if a.chaos:
            self.results["chaos"] = self.chaos_phase()
        self.results["integrity"] = self.integrity()
        if self.fake is not None:  # the whole run's, chaos included
            self.results["fake"] = self.fake_summary()
        return self.results

    def fake_summary(self) -> dict[str, Any]:
        """The fake's totals so far: requests by route and status, its CPU, routes it lacks."""
        assert self.fake is not None
        c = self.fake.counts()
        out: dict[str, Any] = {"requests": c["requests"], "cpu_s": round(c["cpu_s"], 2),
                               "cpu_ms_per_1000_requests": round(
                                   1000 * c["cpu_s"] / max(1, c["requests"]) * 1000, 1)}
        for kind in ("google", "microsoft"):
            if kind in c:
                out[kind] = {"requests": c[kind]["requests"], "routes": c[kind]["routes"],
                             "status": c[kind]["status"],
                             "unknown": c[kind].get("unknown", {})}
        return out

    def chaos_phase(self) -> dict[str, Any]:
        a = self.args
        storm = self.rng.sample(self.names, max(1, a.accounts // 10))
        revoked = self.rng.sample([n for n in self.names if n not in storm],
                                  max(1, a.accounts // 100))
        if self.fake is not None:
            self.fake.call("/revoke", {"users": revoked})
        else:
            (self.folder / "revoked").write_text("\n".join(revoked))
        # New meetings, ending while the chaos goes on; every account is told to look (as a
        # push notice would), so each knows its meeting before it ends.
        start = datetime.now(UTC) + timedelta(seconds=90)
        self.chaos = (start, start + timedelta(seconds=a.chaos_seconds))
        plan = [(name, f"chaos{i}", start + timedelta(seconds=self.rng.uniform(
            0, a.chaos_seconds)), _externals(self.rng)) for i, name in enumerate(self.names)]
        self.add_meetings(plan)
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE company_accounts SET next_check_at = now()"))
        self.wait_until(start)
        if self.fake is not None:  # 429 with Retry-After for a minute, then over by itself
            self.fake.call("/storm", {"users": storm, "seconds": 60})
        else:
            (self.folder / "storm").write_text("\n".join(storm))
        kills = restarts = 0
        cut = False
        end = self.chaos[1]
        next_kill = time.monotonic() + a.kill_every
        storm_off = time.monotonic() + 60
        while datetime.now(UTC) < end:
            time.sleep(1)
            if time.monotonic() >= storm_off and (self.folder / "storm").exists():
                (self.folder / "storm").unlink()
            if not cut and datetime.now(UTC) >= self.chaos[0] + (end - self.chaos[0]) / 2:
                if a.pg_restart:  # the server itself: every session gone, then back
                    subprocess.run(shlex.split(a.pg_restart), check=True)
                else:  # a PostgreSQL restart, as its clients see it
                    with self.admin() as conn:
                        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE application_name = %s AND pid <> pg_backend_pid()",
                                     (self.tag,))
                cut = True
            if time.monotonic() >= next_kill:
                live = self.live_workers()
                if live:
                    victim = self.rng.choice(live)
                    victim.killed_on_purpose = True  # type: ignore[attr-defined]
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    self.start_worker()
                    restarts += 1
                next_kill = time.monotonic() + a.kill_every
        # Settle: stalled jobs retried, leases expired, throttles over.
        self.wait_until(datetime.now(UTC) + timedelta(seconds=a.settle))
        lag = self.lag("chaos")
        return {"kills": kills, "restarts": restarts, "connections_cut": cut,
                "postgres_restarted": bool(a.pg_restart),
                "storm_accounts": len(storm), "revoked_accounts": len(revoked),
                "lag": lag, "revoked": revoked}

    def drain(self, revoked: set[str]) -> dict[str, Any]:
        """Before the check: writes still pending (waiting for a retry after a 429, or
        claimed by a killed worker: their object may be at the provider already, the ledger
        not yet told) are made due now, as `followup retry` does, and their accounts synced,
        until none is left or `--drain` seconds pass. A pending write whose object exists
        would otherwise count as a duplicate; its next attempt looks its key up first."""
        from followup.ledger import Ledger

        started = time.monotonic()
        rounds = 0
        while True:
            with self.engine.begin() as conn:
                waiting = [r[0] for r in conn.execute(text(
                    "SELECT DISTINCT account FROM writes WHERE state = 'pending' "
                    "AND due <= now()")) if r[0] not in revoked]
            if not waiting or time.monotonic() - started > self.args.drain:
                return {"seconds": round(time.monotonic() - started, 1), "rounds": rounds,
                        "accounts_left": len(waiting)}
            with Ledger.open(self.url) as ledger:
                for name in waiting:
                    ledger.retry(name)
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE company_accounts SET next_check_at = now(), "
                                  "throttled_until = NULL WHERE name = ANY(:n)"),
                             {"n": waiting})
            rounds += 1
            time.sleep(15)
            self.keep_workers()

    def integrity(self) -> dict[str, Any]:
        """Every account: objects at the provider (or on disk) against the ledger's done
        writes, once the pending ones are drained."""
        revoked = set(self.results.get("chaos", {}).get("revoked", []))
        self.results["drain"] = self.drain(revoked)
        duplicates = lost = pending = 0
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT account, kind, count(*) FILTER (WHERE state = 'done'), "
                "count(*) FILTER (WHERE state = 'pending' AND due <= now()) "
                "FROM writes GROUP BY account, kind")).all()
        done: dict[tuple[str, str], int] = {}
        for account, kind, n_done, n_pending in rows:
            done[(account, kind)] = n_done
            if account not in revoked:
                pending += n_pending
        if self.fake is not None:
            for k in range(0, len(self.names), 500):
                names = self.names[k:k + 500]
                held = self.fake.call("/written", {"users": names})
                for name in names:
                    for kind in ("contact", "draft", "block"):
                        n = len(held[name].get(kind, []))
                        expected = done.get((name, kind), 0)
                        duplicates += max(0, n - expected)
                        lost += max(0, expected - n)
            return {"duplicates": duplicates, "lost": lost, "due_but_pending": pending}
        for name in self.names:
            root = self.folder / name
            on_disk = {"contact": len(list((root / "contacts").glob("*.vcf"))),
                       "draft": len(list(mailbox.Maildir(root / "Maildir" / ".Drafts",
                                                          create=False).keys())),
                       "block": len(list((root / "followups").glob("*.ics")))}
            for kind, n in on_disk.items():
                expected = done.get((name, kind), 0)
                duplicates += max(0, n - expected)
                lost += max(0, expected - n)
        return {"duplicates": duplicates, "lost": lost, "due_but_pending": pending}

    def close(self) -> None:
        self.stopping.set()
        for w in self.live_workers():
            w.terminate()
        for w in self.workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        if self.ingest is not None and self.ingest.poll() is None:
            self.ingest.terminate()
            try:
                self.ingest.wait(30)
            except subprocess.TimeoutExpired:
                self.ingest.kill()
                self.ingest.wait()
        if self.fake is not None:
            self.fake.close()
        if hasattr(self, "engine"):
            self.engine.dispose()
        with self.admin() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "application_name = %s AND pid <> pg_backend_pid()", (self.tag,))
            conn.execute(f"DROP SCHEMA IF EXISTS {self.tag} CASCADE")
        if not self.args.keep:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK


def _pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


def print_table(r: dict[str, Any]) -> None:
    def lag(x: dict[str, Any]) -> str:
        return (f"p50 {x['p50']} s, p95 {x['p95']} s, p99 {x['p99']} s, max {x['max']} s "
                f"({x['drafts']} drafts, {x['not_done']} not done)")

    n = r["accounts"]
    b, i = r["backfill"], r["idle"]
    http = r.get("providers") == "http"
    where = (f"{r['latency_ms']:.0f} ms per HTTP request to the fakes ("
             f"{'half Google, half Microsoft' if r.get('graph') else 'all Google: no graph.py'}"
             f", {r.get('tenants')} tenants)" if http else
             f"{r['latency_ms']:.0f} ms per provider call (local accounts)")
    rows = [
        ("accounts / workers x concurrency", f"{n} / {r['workers']} x {r['concurrency']}, "
         + where),
        ("backfill (first sync of all)", f"{b['seconds']} s, {b['jobs_per_s']} jobs/s"),
        ("backfill CPU per 1,000 accounts", f"workers {b['worker_cpu_s'] * 1000 / n:.1f} s, "
         f"PostgreSQL {b['postgres_cpu_s'] * 1000 / n:.1f} s"),
        ("lag due -> draft, steady", lag(r["steady_lag"])),
        ("lag due -> draft, burst", lag(r["burst_lag"])),
        ("burst window CPU", f"workers {r['burst_window']['worker_cpu_s']} s, PostgreSQL "
         f"{r['burst_window']['postgres_cpu_s']} s, {r['burst_window']['syncs']} syncs"),
        ("idle sync (safety poll)", f"{i['calls_per_idle_sync']} provider calls, CPU workers "
         f"{i['worker_cpu_per_idle_sync_ms']} ms + PostgreSQL "
         f"{i['postgres_cpu_per_idle_sync_ms']} ms; all {n} in {i['round_seconds']} s"),
        ("idle: provider calls / account / minute", f"{i['calls_per_account_minute']} "
         "(one safety poll per account per 15 min)"),
        ("idle CPU (cores)", f"workers {i['worker_cores']}, PostgreSQL {i['postgres_cores']} "
         f"(of which sweeps and heartbeats {i['background_cores']})"),
        ("idle CPU per 1,000 accounts (cores)",
         f"workers {i['worker_cpu_per_idle_sync_ms'] / 0.9 / 1000:.3f}, PostgreSQL "
         f"{i['postgres_cpu_per_idle_sync_ms'] / 0.9 / 1000:.3f} (1,000 idle syncs per "
         "15 min), plus the sweeps and heartbeats above"),
    ]
    if http:
        w = r["burst_window"]
        rows.append(("provider requests per sync", f"backfill {b['calls'] / max(1, b['syncs']):.1f}"
                     f", burst window {w['calls'] / max(1, w['syncs']):.1f}, idle "
                     f"{i['calls_per_idle_sync']}"))
        busy = b["fake_cpu_s"] + w["fake_cpu_s"]
        rows.append(("fake's CPU (its own process)", f"backfill {b['fake_cpu_s']} s, burst "
                     f"window {w['fake_cpu_s']} s, {i['fake_cpu_per_idle_sync_ms']} ms per idle "
                     f"sync; {1000 * busy / max(1, b['calls'] + w['calls']):.2f} s per 1,000 "
                     "requests"))
        lacking = {k: v for kind in ("google", "microsoft")
                   for k, v in r["fake"].get(kind, {}).get("unknown", {}).items()}
        if lacking:
            rows.append(("routes the fake lacks", ", ".join(sorted(lacking))))
    if "chaos" in r:
        c = r["chaos"]
        rows.append(("chaos", f"{c['kills']} kill -9, connections cut: {c['connections_cut']}, "
                     f"429 storm on {c['storm_accounts']}, {c['revoked_accounts']} revoked"))
        rows.append(("lag due -> draft, chaos", lag(c["lag"])))
        if http:
            said: dict[str, int] = {}
            for kind in ("google", "microsoft"):
                for code, k in r["fake"].get(kind, {}).get("status", {}).items():
                    said[code] = said.get(code, 0) + k
            rows.append(("fake's answers, whole run", ", ".join(
                f"{k} x {code}" for code, k in sorted(said.items()))))
    if "push" in r:
        rows += _push_rows(r)
    g, d = r["integrity"], r.get("drain", {})
    rows.append(("duplicates / lost / due but pending",
                 f"{g['duplicates']} / {g['lost']} / {g['due_but_pending']} (pending writes "
                 f"drained first: {d.get('rounds', 0)} rounds, {d.get('seconds', 0)} s, "
                 f"{d.get('accounts_left', 0)} accounts left)"))
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v}")


def _push_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    p, setup = r["push"], r["push_setup"]
    delivered = sum(v["delivered"] for v in p["notices"].values())
    kinds = ", ".join(f"{k} {v}" for x in p["notices"].values()
                      for k, v in sorted(x["by_kind"].items()))
    failed = sum(sum(v["failed"].values()) for v in p["notices"].values())
    rows = [("push: channels opened", f"{setup['channels']} of {setup['expected']} in "
             f"{setup['seconds']} s, {setup['requests']} provider requests; lifetimes (min) "
             f"{setup['lifetime_minutes']}"),
            ("push: notices delivered", f"{delivered} ({kinds}); {failed} failed; accounts "
             f"not woken before the steady window: {r.get('push_not_woken')}")]
    if p.get("pubsub"):
        ps = p["pubsub"]
        rows.append(("push: Gmail via Pub/Sub", f"{r.get('push_mails', 0)} inbound mails; "
                     f"{ps['published']} published, {ps['acks']} acknowledged, "
                     f"{ps['pending']} pending, {ps['pulls']} pulls"))
    for group in ("meeting", "mail", "echo", "all"):
        x = p["lag"].get(group)
        if x:
            rows.append((f"push: notice -> sync ({group})",
                         f"start p50 {x['start_p50']} / p95 {x['start_p95']} s, end p50 "
                         f"{x['end_p50']} / p95 {x['end_p95']} / p99 {x['end_p99']} s, max "
                         f"{x['max_end']} s ({x['n']} notices)"))
    i = p["idle"]
    rows.append(("push: requests / account / idle minute",
                 f"{i['total']} = quiet {i['quiet']} + safety poll {i['safety_poll']} (every "
                 f"{i['safety_poll_minutes']:g} min) + renewals {i['renewals']} (Google "
                 f"{i['renewal_google']} of which Gmail {i.get('renewal_gmail')}, Graph "
                 f"{i['renewal_graph']})"))
    rows.append(("push: ingest's CPU, whole run", f"{p.get('ingest_cpu_s')} s"))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--database", required=True)
    w.add_argument("--dir", type=Path, required=True)
    w.add_argument("--latency", type=float, default=0.1)
    w.add_argument("--concurrency", type=int, default=8)
    w.add_argument("--providers", choices=("http", "local"), default="local")
    w.add_argument("--poll-seconds", type=float, default=5.0)
    w.add_argument("--safety-poll", type=float, default=None, help="minutes")
    w.add_argument("--record-syncs", action="store_true")
    p.add_argument("--providers", choices=("http", "local"), default="http",
                   help="http: the Google and Graph scale fakes; local: file accounts")
    p.add_argument("--tenant-size", type=int, default=100,
                   help="accounts per tenant with --providers http")
    p.add_argument("--database", default=os.environ.get("FOLLOWUP_TEST_POSTGRES", DEFAULT_DB))
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=8, help="syncs at once per worker")
    p.add_argument("--poll-seconds", type=float, default=5.0,
                   help="how often an idle worker looks for jobs that came due")
    p.add_argument("--latency", type=float, default=0.1, help="seconds per provider call")
    p.add_argument("--steady", type=float, default=240.0, help="seconds of steady load")
    p.add_argument("--steady-rate", type=float, default=10.0,
                   help="meetings ending per minute per 1,000 accounts in the steady window "
                   "(10: six meetings a day each over a ten-hour day)")
    p.add_argument("--lead", type=float, default=60.0,
                   help="seconds between planning the phases' meetings and the first end")
    p.add_argument("--past", type=float, default=1.0,
                   help="share of accounts whose first sync has a meeting to write up")
    p.add_argument("--idle-round", type=int, default=None,
                   help="accounts in the forced safety-poll round (default: all)")
    p.add_argument("--pg-restart", default=None, metavar="COMMAND",
                   help="chaos: restart PostgreSQL with this command (e.g. 'pg_ctlcluster 15 "
                   "main restart') instead of cutting the benchmark's sessions")
    p.add_argument("--burst", type=int, default=None)
    p.add_argument("--idle", type=float, default=60.0, help="seconds of quiet measured")
    p.add_argument("--safety-poll", type=float, default=15.0, help="minutes (the default)")
    p.add_argument("--chaos", action="store_true")
    p.add_argument("--chaos-seconds", type=float, default=180.0)
    p.add_argument("--kill-every", type=float, default=45.0)
    p.add_argument("--settle", type=float, default=150.0)
    p.add_argument("--drain", type=float, default=600.0,
                   help="seconds at most to drain pending writes before the end check")
    p.add_argument("--push", action="store_true",
                   help="push mode: a `followup ingest` process, channels at the fakes, and "
                   "the phases' syncs woken by the fake's notices (--providers http)")
    p.add_argument("--push-graph", choices=("app", "delegated"), default="app",
                   help="Graph subscriptions with a tenant app grant, or each account's "
                   "own sign-in")
    p.add_argument("--push-mail-share", type=float, default=0.2,
                   help="push: the share of Google accounts that get an inbound mail in the "
                   "steady window (Gmail notices through Pub/Sub); 0: none")
    p.add_argument("--renew-seconds", type=float, default=300.0,
                   help="push: ingest's renewal round period")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the accounts' folders")
    args = p.parse_args()
    if args.cmd == "worker":
        return run_bench_worker(args.database, args.dir, args.latency, args.concurrency,
                                args.providers, args.poll_seconds, args.safety_poll,
                                args.record_syncs)
    if args.push and (args.providers != "http" or args.chaos):
        p.error("--push runs with --providers http and without --chaos")
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.close()
    results.get("chaos", {}).pop("revoked", None)
    print(json.dumps(results, indent=2, default=str))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
