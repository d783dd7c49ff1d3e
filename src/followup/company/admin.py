"""`followup admin ...` and `followup worker`: company mode's commands.

cli.py hands everything after `admin` / `worker` to `main_admin` / `main_worker` (imported
only then: the embedded mode never imports procrastinate or cryptography). The database is
`--database URL` or $FOLLOWUP_DATABASE_URL (a SQLAlchemy URL, postgresql+psycopg://...);
the master key is $FOLLOWUP_MASTER_KEY or the file named by $FOLLOWUP_MASTER_KEY_FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.engine import Engine

from followup.company import schema
from followup.company.crypto import new_master_key
from followup.company.observe import company_status, prometheus_text
from followup.company.store import AccountStore, AdminError, iter_toml_accounts, token_files
from followup.config import ConfigError, load_config

DATABASE_ENV = "FOLLOWUP_DATABASE_URL"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _database(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database", default=os.environ.get(DATABASE_ENV),
                   help=f"PostgreSQL URL (default: ${DATABASE_ENV})")


def _value(raw: str) -> Any:
    """A --set value: a TOML value when it parses as one (lists, numbers, true), else text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _pairs(items: Sequence[str], flag: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(flag, [f"{item!r}: expected KEY=VALUE"])
        found[key.strip()] = _value(raw)
    return found


def admin_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup admin",
                                description="Company mode: tenants, accounts and keys in "
                                "PostgreSQL (docs/company.md).")
    _database(p)
    sub = p.add_subparsers(dest="what", required=True, metavar="COMMAND")
    sub.add_parser("init", help="create the tables (ledger, accounts, queue)")
    sub.add_parser("new-key", help="print a new master key (FOLLOWUP_MASTER_KEY)")

    tenant = sub.add_parser("tenant", help="tenants: add, list")
    tsub = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    tadd = tsub.add_parser("add", help="add a tenant")
    tadd.add_argument("name")
    tadd.add_argument("--settings", type=Path, help="a followup TOML whose [user], "
                      "[schedule], [triage], [drafts], [daemon] are the tenant's defaults")
    tsub.add_parser("list", help="list tenants")

    account = sub.add_parser("account", help="accounts: add, list, enable, disable, remove")
    asub = account.add_subparsers(dest="action", required=True, metavar="ACTION")
    aadd = asub.add_parser("add", help="add an account to a tenant")
    aadd.add_argument("tenant")
    aadd.add_argument("--kind", required=True, choices=["google", "microsoft", "local"])
    aadd.add_argument("--name", required=True, help="unique across tenants")
    aadd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="an account setting as in the TOML (repeat)")
    aadd.add_argument("--user", action="append", default=[], metavar="KEY=VALUE",
                      help="this person's [user] setting over the tenant's (repeat)")
    aadd.add_argument("--tokens-dir", type=Path, help="a tokens/ folder holding the "
                      "account's grant, as `followup connect` left it")
    alist = asub.add_parser("list", help="list accounts and their status")
    alist.add_argument("--tenant")
    alist.add_argument("--json", action="store_true")
    for action, text_ in (("enable", "sync it again"), ("disable", "stop syncing it"),
                          ("remove", "delete it (its ledger history stays)"),
                          ("sync", "queue a sync now")):
        one = asub.add_parser(action, help=text_)
        one.add_argument("name")

    imp = sub.add_parser("import-toml", help="move a TOML config's accounts (and their "
                         "tokens) into a tenant")
    imp.add_argument("tenant")
    imp.add_argument("config", type=Path)
    sub.add_parser("rotate-key", help="re-wrap every credential's key with the first "
                   "master key")
    status = sub.add_parser("status", help="queue depth, waiting, lag, throttled accounts")
    fmt = status.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--prometheus", action="store_true",
                     help="Prometheus text format (for a textfile collector)")
    return p


def worker_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup worker",
                                description="Run account syncs from the PostgreSQL queue.")
    _database(p)
    p.add_argument("--concurrency", type=int, default=int(os.environ.get(
        "FOLLOWUP_WORKER_CONCURRENCY", "4")), help="syncs at once (threads; default 4)")
    p.add_argument("--name", help="worker name in logs (default: host-pid)")
    p.add_argument("--safety-poll-minutes", type=float, default=float(os.environ.get(
        "FOLLOWUP_SAFETY_POLL_MINUTES", "15")), help="check every account at least this "
        "often (default 15)")
    p.add_argument("--lease-seconds", type=float, default=float(os.environ.get(
        "FOLLOWUP_LEASE_SECONDS", "120")), help="an account's lease (default 120)")
    p.add_argument("--stalled-seconds", type=float, default=float(os.environ.get(
        "FOLLOWUP_STALLED_SECONDS", "30")), help="a worker silent this long is dead and its "
        "jobs are retried (default 30)")
    p.add_argument("--periodic-seconds", type=int, default=int(os.environ.get(
        "FOLLOWUP_PERIODIC_SECONDS", "60")), help="how often the sweep and the stalled-job "
        "retry run (default 60)")
    p.add_argument("--poll-seconds", type=float, default=float(os.environ.get(
        "FOLLOWUP_POLL_SECONDS", "1")), help="how often an idle worker looks for syncs that "
        "came due (default 1)")
    p.add_argument("--metrics-listen", default=os.environ.get("FOLLOWUP_METRICS_LISTEN"),
                   metavar="HOST:PORT", help="serve /metrics (queue depth, oldest waiting job, "
                   "due-to-draft lag, throttled accounts, push channels) and /healthz here, "
                   "e.g. 127.0.0.1:9464")
    return p


def _engine(url: str | None) -> Engine:
    if not url:
        raise ConfigError("followup admin", [f"no database: pass --database or set "
                                             f"{DATABASE_ENV}"])
    from followup.ledger.connect import make_engine

    if not url.startswith("postgresql"):
        raise ConfigError("followup admin", ["company mode needs PostgreSQL "
                                             "(postgresql+psycopg://...)"])
    return make_engine(url)


def main_worker(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    args = worker_parser().parse_args(argv)
    _engine(args.database).dispose()  # checks the URL
    if args.metrics_listen:
        from followup.service.http import parse_listen

        try:
            parse_listen(args.metrics_listen)
        except ValueError as e:
            print(f"followup worker: {e}", file=err)
            return EXIT_USAGE
    from followup.company.worker import run_worker

    interval = max(1.0, args.stalled_seconds / 3)
    return run_worker(
        args.database, concurrency=args.concurrency, name=args.name,
        lease_ttl=timedelta(seconds=args.lease_seconds),
        safety_poll=timedelta(minutes=args.safety_poll_minutes),
        heartbeat=interval, stalled_after=args.stalled_seconds,
        periodic_seconds=args.periodic_seconds, metrics_listen=args.metrics_listen,
        poll_seconds=args.poll_seconds,
    )


def main_admin(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    from followup.push.admin import is_push_command, main_push_admin

    if is_push_command(argv):  # push channels and organisation-wide connect (push/)
        return main_push_admin(argv, out, err)
    try:
        return _main_admin(argv, out, err)
    except ConfigError as e:  # settings that the TOML's models refuse: every problem
        print(f"followup admin: {e.source} cannot be used:", file=err)
        for problem in e.problems:
            print(f"  - {problem}", file=err)
        return EXIT_USAGE


def _main_admin(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    parser = admin_parser()
    if not argv:
        parser.print_help(out)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if args.what == "new-key":
        print(new_master_key(), file=out)
        return EXIT_OK
    engine = _engine(args.database)
    try:
        if args.what == "init":
            init_database(args.database, engine)
            print("company tables ready", file=out)
            return EXIT_OK
        schema.ensure_schema(engine)
        store = AccountStore(engine)
        try:
            return _run(args, store, engine, out)
        except AdminError as e:
            print(f"followup admin: {e}", file=err)
            return EXIT_FAILED
    finally:
        engine.dispose()


def init_database(url: str, engine: Engine) -> None:
    from followup.company.queue import connector_for, make_app
    from followup.company.worker import ensure_queue_schema
    from followup.ledger import Ledger

    Ledger.open(url).close()
    schema.ensure_schema(engine)
    ensure_queue_schema(make_app(connector_for(url)), engine)


def _run(args: argparse.Namespace, store: AccountStore, engine: Engine, out: TextIO) -> int:
    what, action = args.what, getattr(args, "action", None)
    if what == "tenant" and action == "add":
        settings: dict[str, Any] = {}
        if args.settings:
            config = load_config(args.settings)
            settings = config.model_dump(mode="json", include=set(_tenant_keys(config)),
                                         exclude_defaults=True)
        store.add_tenant(args.name, settings)
        print(f"tenant {args.name} added", file=out)
    elif what == "tenant":
        for name, settings in store.tenants():
            print(f"{name}\t{json.dumps(settings, sort_keys=True)}", file=out)
    elif what == "account" and action == "add":
        cfg = {**_pairs(args.set, "--set"), "kind": args.kind, "name": args.name}
        credential = token_files(args.tokens_dir, args.name) if args.tokens_dir else None
        if args.tokens_dir and not credential:
            raise AdminError(f"no token file for {args.name} in {args.tokens_dir}")
        store.add_account(args.tenant, cfg, user=_pairs(args.user, "--user"),
                          credential=credential)
        _queue(args.database, [args.name], out)
        print(f"account {args.name} added to {args.tenant}", file=out)
    elif what == "account" and action == "list":
        _list(store, args.tenant, args.json, out)
    elif what == "account" and action in ("enable", "disable"):
        store.set_enabled(args.name, action == "enable")
        if action == "enable":
            _queue(args.database, [args.name], out)
        print(f"account {args.name} {action}d", file=out)
    elif what == "account" and action == "remove":
        store.remove(args.name)
        print(f"account {args.name} removed (its ledger history is kept)", file=out)
    elif what == "account" and action == "sync":
        if store.get(args.name) is None:
            raise AdminError(f"no account {args.name!r}")
        _queue(args.database, [args.name], out)
        print(f"sync of {args.name} queued", file=out)
    elif what == "import-toml":
        return _import(args, store, out)
    elif what == "rotate-key":
        print(f"{store.rotate_keys()} credentials re-wrapped with the current master key",
              file=out)
    elif what == "status":
        view = company_status(engine, store)
        if args.json:
            json.dump(view, out, indent=2, default=str)
            out.write("\n")
        elif args.prometheus:
            out.write(prometheus_text(view))
        else:
            for key, value in view.items():
                print(f"{key}: {value}", file=out)
    return EXIT_OK


def _tenant_keys(config: Any) -> list[str]:
    from followup.company.store import TENANT_KEYS

    return [k for k in TENANT_KEYS if getattr(config, k, None) is not None]


def _import(args: argparse.Namespace, store: AccountStore, out: TextIO) -> int:
    config = load_config(args.config)
    if args.tenant not in {name for name, _ in store.tenants()}:
        settings = config.model_dump(mode="json", include=set(_tenant_keys(config)),
                                     exclude_defaults=True)
        store.add_tenant(args.tenant, settings)
        print(f"tenant {args.tenant} added with the file's settings", file=out)
    added = []
    for account, tokens in iter_toml_accounts(config):
        if store.get(account.name) is not None:
            print(f"{account.name}: exists already, left as it is", file=out)
            continue
        store.add_account(args.tenant, account.model_dump(mode="json"),
                          credential=tokens or None)
        added.append(account.name)
        what = f"with {len(tokens)} token file(s)" if tokens else "without a token"
        print(f"{account.name}: imported {what}", file=out)
    _queue(args.database, added, out)
    return EXIT_OK


def _queue(url: str, names: list[str], out: TextIO) -> None:
    if not names:
        return
    from followup.company.queue import connector_for, make_app, schedule_sync

    app = make_app(connector_for(url))
    try:
        with app.open():
            for name in names:
                schedule_sync(app, name, "admin")
    except Exception as e:  # the queue is not set up yet: the first worker's sweep will do
        print(f"(not queued now: {type(e).__name__}; the workers' sweep picks it up)",
              file=out)


def _list(store: AccountStore, tenant: str | None, as_json: bool, out: TextIO) -> None:
    records = store.accounts(tenant)
    if as_json:
        json.dump([r.__dict__ for r in records], out, indent=2, default=str)
        out.write("\n")
        return
    for r in records:
        state = ("disabled" if not r.enabled else "needs reconnect" if r.needs_reconnect
                 else "throttled" if r.throttled_until and r.throttled_until > _now()
                 else "failing" if r.last_error else "ok")
        last = f"{r.last_sync:%Y-%m-%d %H:%M}Z" if r.last_sync else "never"
        print(f"{r.tenant}\t{r.name}\t{r.kind}\t{state}\tlast sync {last}"
              f"{'' if r.has_credential else chr(9) + 'no credential'}", file=out)


def _now() -> datetime:
    return datetime.now(UTC)
