"""`followup ingest` and the push / organisation commands of `followup admin`.

company.admin hands `admin push ...`, `admin sync-users ...`, `admin tenant add google|
microsoft ...` and `admin account forget ...` here (imported only then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import structlog
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from followup.company import schema as company_schema
from followup.company.store import AccountStore, AdminError
from followup.push import schema
from followup.push.channels import ChannelStore
from followup.push.orgstore import OrgGrant, OrgStore
from followup.push.renew import PushSettings, Renewer

log = structlog.get_logger(__name__)

DATABASE_ENV = "FOLLOWUP_DATABASE_URL"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def is_push_command(argv: Sequence[str]) -> bool:
    args = list(argv)
    return bool(args) and (args[0] in ("push", "sync-users")
                           or args[:3] in (["tenant", "add", "google"],
                                           ["tenant", "add", "microsoft"])
                           or args[:2] == ["account", "forget"])


def _settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--public-url", default=os.environ.get("FOLLOWUP_PUBLIC_URL"),
                   help="the HTTPS base URL that reaches `followup ingest` (webhooks)")
    p.add_argument("--gmail-topic", default=os.environ.get("FOLLOWUP_GMAIL_TOPIC"),
                   help="Pub/Sub topic for Gmail watch (projects/P/topics/T)")
    p.add_argument("--eventhub-url", default=os.environ.get("FOLLOWUP_EVENTHUB_URL"),
                   help="Graph notification URL of an Event Hub (EventHub:https://...)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup admin")
    p.add_argument("--database", default=os.environ.get(DATABASE_ENV))
    sub = p.add_subparsers(dest="what", required=True)
    push = sub.add_parser("push", help="push channels").add_subparsers(dest="action",
                                                                      required=True)
    st = push.add_parser("status", help="channels by kind, expiring, failing")
    st.add_argument("--json", action="store_true")
    st.add_argument("--prometheus", action="store_true")
    st.add_argument("--list", action="store_true", help="one line per channel")
    rn = push.add_parser("renew", help="one renewal round now")
    _settings_args(rn)
    tenant = sub.add_parser("tenant").add_subparsers(dest="action", required=True)
    add = tenant.add_parser("add").add_subparsers(dest="provider", required=True)
    g = add.add_parser("google", help="a Workspace tenant: service account + delegation")
    g.add_argument("--tenant", required=True)
    g.add_argument("--service-account", type=Path, required=True, help="the key (JSON)")
    g.add_argument("--check-user", required=True, help="a user whose calendar is read")
    g.add_argument("--admin", help="an administrator to list users as (sync-users)")
    g.add_argument("--domain")
    g.add_argument("--pubsub-topic", help="this tenant's Gmail watch topic")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="account settings for its users (calendar_url, token_uri...)")
    m = add.add_parser("microsoft", help="a Microsoft 365 tenant: app-only, certificate")
    m.add_argument("--tenant", required=True)
    m.add_argument("--tenant-id", required=True)
    m.add_argument("--client-id", required=True)
    m.add_argument("--certificate", type=Path, required=True,
                   help="PEM file with the private key and the certificate")
    m.add_argument("--check-user", required=True)
    m.add_argument("--authority-url", default="https://login.microsoftonline.com")
    m.add_argument("--graph-url", default="https://graph.microsoft.com/v1.0")
    m.add_argument("--ca-bundle")
    su = sub.add_parser("sync-users", help="add an account per member of a group")
    su.add_argument("--tenant", required=True)
    su.add_argument("--group", help="group address (default: every user of the domain)")
    acc = sub.add_parser("account").add_subparsers(dest="action", required=True)
    fg = acc.add_parser("forget", help="remove an opted-out account's data")
    fg.add_argument("name")
    return p


def engine_for(url: str | None) -> Engine:
    if not url or not url.startswith("postgresql"):
        raise AdminError(f"company mode needs PostgreSQL: pass --database or set {DATABASE_ENV}")
    from followup.ledger.connect import make_engine

    engine = make_engine(url)
    company_schema.ensure_schema(engine)
    schema.ensure_schema(engine)
    return engine


def main_push_admin(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    args = _parser().parse_args(list(argv))
    try:
        engine = engine_for(args.database)
    except AdminError as e:
        print(f"followup admin: {e}", file=err)
        return EXIT_USAGE
    try:
        return _run(args, engine, out, err)
    except AdminError as e:
        print(f"followup admin: {e}", file=err)
        return EXIT_FAILED
    finally:
        engine.dispose()


def _run(args: argparse.Namespace, engine: Engine, out: TextIO, err: TextIO) -> int:
    accounts, channels, orgs = AccountStore(engine), ChannelStore(engine), OrgStore(engine)
    if args.what == "push" and args.action == "status":
        view = channels.status()
        if args.json:
            json.dump(view, out, indent=2)
            out.write("\n")
        elif args.prometheus:
            out.write(prometheus(view))
        else:
            for k, v in view.items():
                print(f"{k}: {v}", file=out)
        if args.list:
            for c in channels.all():
                when = c.expires_at.strftime("%Y-%m-%d %H:%M")
                forged = f"\tforged {c.forged}" if c.forged else ""
                print(f"{c.account}\t{c.kind}\t{c.resource}\texpires {when}Z\tfailures "
                      f"{c.failures}\tnotices {c.notices}{forged}", file=out)
        return EXIT_OK
    if args.what == "push" and args.action == "renew":
        renewer = Renewer(engine, accounts, channels, orgs, _settings(args))
        report = renewer.run_once()
        if report is None:
            print("another process is renewing; nothing done", file=out)
        else:
            print(f"created {report.created}, renewed {report.renewed}, stopped "
                  f"{report.stopped}, failed {report.failed}", file=out)
        return EXIT_OK if report is None or not report.failed else EXIT_FAILED
    if args.what == "tenant":
        return _tenant_add(args, accounts, orgs, out, err)
    if args.what == "sync-users":
        return _sync_users(args, accounts, orgs, out)
    if args.what == "account" and args.action == "forget":
        return _forget(args.name, engine, accounts, channels, orgs, out)
    return EXIT_USAGE


def _settings(args: argparse.Namespace) -> PushSettings:
    return PushSettings(public_url=args.public_url, gmail_topic=args.gmail_topic,
                        eventhub_url=args.eventhub_url)


def prometheus(view: dict[str, Any]) -> str:
    lines = []
    for key, value in view.items():
        lines += [f"# TYPE followup_{key} gauge", f"followup_{key} {value}"]
    return "\n".join(lines) + "\n"


def _pairs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise AdminError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _tenant_add(args: argparse.Namespace, accounts: AccountStore, orgs: OrgStore,
                out: TextIO, err: TextIO) -> int:
    if args.tenant not in {name for name, _ in accounts.tenants()}:
        accounts.add_tenant(args.tenant, {})
    if args.provider == "google":
        from followup.config import GoogleAccount
        from followup.push.org_google import OrgAccessError, check_access, load_key

        try:
            key = load_key(args.service_account.read_text(encoding="utf-8"))
        except (OSError, OrgAccessError) as e:
            raise AdminError(str(e)) from None
        account_settings = _pairs(args.set)
        directory_url = account_settings.pop("directory_url", "https://admin.googleapis.com/")
        try:
            cfg = GoogleAccount.model_validate({"kind": "google", "name": "check",
                                                **account_settings})
        except ValueError as e:
            raise AdminError(f"--set: {e}") from None
        report = check_access(key, args.check_user, cfg, admin=args.admin,
                              directory_url=directory_url)
        account_settings["directory_url"] = directory_url
        settings = {"domain": args.domain, "admin": args.admin, "pubsub_topic": args.pubsub_topic,
                    "account": account_settings}
        grant = OrgGrant(args.tenant, "google", settings, key)
    else:
        from followup.push.org_microsoft import AppCredential
        from followup.push.org_microsoft import check_access as check_app

        cred = AppCredential(args.tenant_id, args.client_id,
                             args.certificate.read_text(encoding="ascii"),
                             args.authority_url, args.graph_url, args.ca_bundle)
        mreport = check_app(cred, args.check_user)
        problems = mreport.problems
        grant = OrgGrant(args.tenant, "microsoft", {
            "account": {"authority_url": args.authority_url, "graph_url": args.graph_url,
                        **({"ca_bundle": args.ca_bundle} if args.ca_bundle else {})}},
            cred.to_json())
        report = None
    problems = report.problems if report is not None else problems
    if problems:
        print(f"tenant {args.tenant}: access check failed, nothing stored:", file=err)
        for p in problems:
            print(f"  - {p}", file=err)
        return EXIT_FAILED
    orgs.save(grant)
    print(f"tenant {args.tenant}: {args.provider} organisation access works "
          f"(read {args.check_user}'s calendar); credential stored sealed", file=out)
    return EXIT_OK


def account_name(address: str) -> str:
    """An account name for a mailbox address: readable, unique with the domain."""
    return re.sub(r"[^a-z0-9._-]+", "-", address.lower())


def _sync_users(args: argparse.Namespace, accounts: AccountStore, orgs: OrgStore,
                out: TextIO) -> int:
    grant = orgs.get(args.tenant)
    if grant is None:
        raise AdminError(f"tenant {args.tenant} has no organisation access: "
                         "`followup admin tenant add google|microsoft` first")
    base = dict(grant.settings.get("account", {}))
    if grant.provider == "google":
        from followup.push.org_google import account_credential, directory_users

        admin = grant.settings.get("admin")
        if not admin:
            raise AdminError("listing users needs an administrator: tenant add google --admin")
        directory_url = base.pop("directory_url", "https://admin.googleapis.com/")
        users = directory_users(grant.secret, admin, group=args.group,
                                domain=grant.settings.get("domain"),
                                directory_url=directory_url)
    else:
        from followup.push.org_microsoft import AppCredential, group_members

        if not args.group:
            raise AdminError("Microsoft tenants sync a group: --group sales@...")
        users = group_members(AppCredential.from_json(grant.secret), args.group)
    known = {r.name: r for r in accounts.accounts()}
    added = kept = 0
    for address in users:
        name = account_name(address)
        config = {"kind": grant.provider, "name": name, **base}
        if grant.provider == "google":
            credential = account_credential(grant.secret, address)
        else:
            from followup.push.org_microsoft import AppCredential
            from followup.push.org_microsoft import account_credential as app_credential

            credential = app_credential(AppCredential.from_json(grant.secret), address)
        record = known.get(name)
        if record is not None:
            # Known: left as it is, but an enabled account of this tenant gets the tenant's
            # current credential (a rotated key); an opted-out one gets nothing back.
            if record.enabled and record.tenant == args.tenant and record.has_credential:
                accounts.store_credential(name, credential)
            kept += 1
            continue
        accounts.add_account(args.tenant, config, user={"addresses": [address]},
                             credential=credential)
        added += 1
        print(f"{name}: added", file=out)
    print(f"{added} account(s) added, {kept} already known, from {len(users)} user(s)", file=out)
    return EXIT_OK


def _forget(name: str, engine: Engine, accounts: AccountStore, channels: ChannelStore,
            orgs: OrgStore, out: TextIO) -> int:
    """An opted-out account's data: its channels stopped, its ledger rows and credential
    deleted. The account row stays, disabled and empty, so `sync-users` does not bring the
    person back."""
    from followup.ledger import schema as ledger_schema

    record = accounts.get(name)
    if record is None:
        raise AdminError(f"no account {name!r}")
    if record.enabled:
        raise AdminError(f"{name} is enabled: `followup admin account disable {name}` first "
                         "(forget is for people who opted out)")
    stopped = Renewer(engine, accounts, channels, orgs, PushSettings()).stop_account(name)
    removed = 0
    with engine.begin() as conn:
        for table in reversed(ledger_schema.metadata.sorted_tables):
            if "account" in table.c:
                removed += int(conn.execute(delete(table).where(table.c.account == name))
                               .rowcount or 0)
    a = company_schema.accounts
    with engine.begin() as conn:
        conn.execute(a.update().where(a.c.name == name).values(
            credential=None, wrapped_key=None, user_settings={}, last_error=None))
    print(f"{name}: forgotten ({removed} ledger rows, {stopped} channel(s) stopped, "
          "credential deleted); the mail and events in the mailbox stay the user's", file=out)
    return EXIT_OK


# --- followup ingest ------------------------------------------------------------------------


def ingest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup ingest", description=(
        "Receive push notices (webhooks, Pub/Sub, Event Hubs) and queue account syncs; "
        "renew the push channels."))
    p.add_argument("--database", default=os.environ.get(DATABASE_ENV))
    p.add_argument("--listen", default=os.environ.get("FOLLOWUP_INGEST_LISTEN", "127.0.0.1:8088"),
                   help="HOST:PORT of the webhook server (behind your HTTPS proxy)")
    _settings_args(p)
    p.add_argument("--pubsub-subscription", default=os.environ.get("FOLLOWUP_PUBSUB_SUBSCRIPTION"),
                   help="projects/P/subscriptions/S to pull Gmail notices from")
    p.add_argument("--pubsub-endpoint", default=os.environ.get("FOLLOWUP_PUBSUB_ENDPOINT"),
                   help="another Pub/Sub endpoint (a local server in tests)")
    p.add_argument("--eventhub-connection-env", default="FOLLOWUP_EVENTHUB_CONNECTION",
                   help="environment variable holding the Event Hubs connection string")
    p.add_argument("--eventhub-name", default=os.environ.get("FOLLOWUP_EVENTHUB_NAME"))
    p.add_argument("--eventhub-consumer-group", default="$Default")
    p.add_argument("--renew-seconds", type=float, default=300.0,
                   help="how often channels are checked for renewal (default 300)")
    return p


def main_ingest(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    args = ingest_parser().parse_args(list(argv))
    try:
        engine = engine_for(args.database)
    except AdminError as e:
        print(f"followup ingest: {e}", file=err)
        return EXIT_USAGE
    from followup.push.ingest import Ingest

    ingest = Ingest(args.database, engine, _settings(args))
    host, _, port = args.listen.rpartition(":")
    try:
        ingest.serve(host or "127.0.0.1", int(port), pubsub=args.pubsub_subscription,
                     pubsub_endpoint=args.pubsub_endpoint,
                     eventhub=(os.environ.get(args.eventhub_connection_env), args.eventhub_name,
                               args.eventhub_consumer_group),
                     renew_seconds=args.renew_seconds, stop=threading.Event())
    finally:
        engine.dispose()
    return EXIT_OK
