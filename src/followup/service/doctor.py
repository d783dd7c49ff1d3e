"""`followup doctor`: checks a setup and says what to do about each problem.

Checks, in order: the config; permissions of the state dir (0700), token files and the
ledger file (0600); each account's credentials and granted scopes (no network); clock skew
against the Date header of a configured provider endpoint (skipped politely when none can
be reached); the ledger's reachability and schema version (read only: it never migrates).
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import requests

from followup.config import Config, ConfigError, GoogleAccount, MicrosoftAccount, load_config
from followup.service.status import credentials_of

MAX_SKEW_SECONDS = 60  # OAuth and TLS tolerate a few minutes; warn well before that
PROBE_TIMEOUT_SECONDS = 5.0


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    what: str
    fix: str = ""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_permissions(config: Config) -> Iterator[Check]:
    state = config.state_path()
    if not state.exists():
        yield Check(Verdict.OK, f"state dir {state} not created yet (followup run creates it)")
        return
    mode = _mode(state)
    if mode & 0o077:
        yield Check(Verdict.FAIL, f"state dir {state} is mode {mode:04o}, readable by others",
                    f"chmod 700 {state}")
    else:
        yield Check(Verdict.OK, f"state dir {state} is private ({mode:04o})")
    secrets: list[Path] = []
    tokens = state / "tokens"
    if tokens.is_dir():
        if _mode(tokens) & 0o077:
            yield Check(Verdict.FAIL, f"token dir {tokens} is mode {_mode(tokens):04o}",
                        f"chmod 700 {tokens}")
        secrets += sorted(p for p in tokens.iterdir() if p.is_file())
    for acfg in config.accounts:
        info = credentials_of(acfg, config)
        if info.path and Path(info.path).is_file() and Path(info.path) not in secrets:
            secrets.append(Path(info.path))
    url = config.ledger_url()
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        if db.is_file():
            secrets.append(db)
    for p in secrets:
        m = _mode(p)
        if m & 0o077:
            yield Check(Verdict.FAIL, f"{p} is mode {m:04o}: others can read it",
                        f"chmod 600 {p}")
        else:
            yield Check(Verdict.OK, f"{p} is private ({m:04o})")


def check_credentials(config: Config) -> Iterator[Check]:
    for acfg in config.accounts:
        info = credentials_of(acfg, config)
        name = f"account {acfg.name} ({acfg.kind})"
        connect = f"followup connect {acfg.kind} --account {acfg.name}"
        if info.state == "none":
            yield Check(Verdict.OK, f"{name}: {info.message or 'no credentials needed'}")
        elif info.state == "ok":
            yield Check(Verdict.OK, f"{name}: token valid" + _scopes(info.scopes))
        elif info.state == "expiring":
            yield Check(Verdict.WARN, f"{name}: {info.message or 'grant expires soon'}",
                        f"{connect} before it does")
        elif info.state in ("missing", "needs_reconnect"):
            yield Check(Verdict.FAIL, f"{name}: {info.message or info.state}", connect)
        else:
            yield Check(Verdict.FAIL, f"{name}: credentials unreadable: {info.message}",
                        f"remove {info.path or 'the token file'} and run {connect}")
        missing = _missing_scopes(acfg, info.scopes) if info.state in ("ok", "expiring") else []
        if missing:
            yield Check(Verdict.FAIL, f"{name}: scopes not granted: {', '.join(missing)}",
                        f"{connect} and grant every permission asked")


def _scopes(scopes: tuple[str, ...]) -> str:
    return f", {len(scopes)} scopes granted" if scopes else ""


def _missing_scopes(acfg: object, granted: tuple[str, ...]) -> list[str]:
    """Scopes the provider needs that the token lacks; [] when unknown (no token yet)."""
    if not granted:
        return []
    needed: list[str]
    if isinstance(acfg, GoogleAccount):
        from followup.providers.google.scopes import scopes_for

        needed = scopes_for(acfg)
        have = set(granted)
        return [s for s in needed if s not in have]
    if isinstance(acfg, MicrosoftAccount):
        from followup.providers.microsoft.auth import SCOPES

        # Graph may report "https://graph.microsoft.com/Mail.ReadWrite" or "Mail.ReadWrite".
        short = {s.rsplit("/", 1)[-1].lower() for s in granted}
        return [s for s in SCOPES if s.lower() not in short]
    return []


def probe_urls(config: Config) -> list[str]:
    """One URL per provider host the config talks to, to read a Date header from."""
    urls: list[str] = []
    for a in config.accounts:
        if isinstance(a, GoogleAccount):
            urls.append(a.calendar_url)
        elif isinstance(a, MicrosoftAccount):
            urls.append(a.graph_url)
        else:
            urls += [c for c in a.calendars if c.startswith(("http://", "https://"))]
    seen: set[str] = set()
    unique = []
    for u in urls:
        host = urlsplit(u).netloc
        if host not in seen:
            seen.add(host)
            unique.append(u)
    return unique


def check_clock(config: Config) -> Iterator[Check]:
    urls = probe_urls(config)
    if not urls:
        yield Check(Verdict.SKIP, "clock: no provider endpoint configured to compare with")
        return
    unreachable = []
    for url in urls:
        try:
            resp = requests.head(url, timeout=PROBE_TIMEOUT_SECONDS, allow_redirects=False)
        except requests.RequestException as e:
            unreachable.append(f"{urlsplit(url).netloc} ({type(e).__name__})")
            continue
        date = resp.headers.get("Date")
        if not date:
            unreachable.append(f"{urlsplit(url).netloc} (no Date header)")
            continue
        try:
            theirs = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            unreachable.append(f"{urlsplit(url).netloc} (bad Date header)")
            continue
        skew = (datetime.now(UTC) - theirs).total_seconds()
        host = urlsplit(url).netloc
        if abs(skew) > MAX_SKEW_SECONDS:
            ahead = "ahead of" if skew > 0 else "behind"
            yield Check(
                Verdict.FAIL, f"clock: this machine is {abs(skew):.0f} s {ahead} {host}",
                "turn on time sync (timedatectl set-ntp true, or chrony/ntpd); sign-in and "
                "token refresh fail when clocks disagree",
            )
        else:
            yield Check(Verdict.OK, f"clock: within {abs(skew):.0f} s of {host}")
        return
    yield Check(Verdict.SKIP, "clock: not checked, no endpoint reachable: " + ", ".join(
        unreachable))


def check_ledger(config: Config) -> Iterator[Check]:
    from sqlalchemy.engine import make_url

    from followup.ledger.connect import make_engine
    from followup.ledger.migrate import current_revision, head_revision

    url = config.ledger_url()
    shown = make_url(url).render_as_string(hide_password=True)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        yield Check(Verdict.OK, f"ledger {shown} not created yet (followup run creates it)")
        return
    try:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                current = current_revision(conn)
        finally:
            engine.dispose()
    except Exception as e:
        yield Check(Verdict.FAIL, f"ledger {shown} unreachable: {type(e).__name__}: "
                    f"{str(e).splitlines()[0] if str(e) else ''}",
                    "check ledger.url, that the database server runs and accepts this user")
        return
    head = head_revision()
    if current == head:
        yield Check(Verdict.OK, f"ledger {shown} reachable, schema {current} (current)")
    elif current is None:
        yield Check(Verdict.WARN, f"ledger {shown} reachable but empty",
                    "followup run creates the schema on start")
    else:
        yield Check(Verdict.WARN, f"ledger {shown}: schema {current}, this followup has {head}",
                    "followup run migrates it on start (a newer followup's schema is refused: "
                    "upgrade followup instead)")


def run_checks(config: Config) -> Iterator[Check]:
    yield from check_permissions(config)
    yield from check_credentials(config)
    yield from check_clock(config)
    yield from check_ledger(config)


def run_doctor(config_path: Path, *, out: TextIO) -> int:
    """`followup doctor`: 0 all good, 1 problems found, 2 the config cannot be used."""
    try:
        config = load_config(config_path)
    except ConfigError as e:
        print(f"[FAIL] config {e.source}:", file=out)
        for p in e.problems:
            print(f"         - {p}", file=out)
        print("       -> fix these lines in the config; `followup doctor` checks it again",
              file=out)
        return 2
    n = len(config.accounts)
    print(f"[ok]   config {config_path}: {n} account{'s' if n != 1 else ''}", file=out)
    failed = n == 0
    if failed:
        print("[FAIL] no account configured -> add an [[accounts]] table", file=out)
    for check in run_checks(config):
        print(f"[{check.verdict.value}]".ljust(7) + check.what, file=out)
        if check.fix:
            print(f"       -> {check.fix}", file=out)
        failed = failed or check.verdict is Verdict.FAIL
        out.flush()
    print("\nSome checks failed; see the -> lines." if failed else "\nAll good.", file=out)
    return 1 if failed else 0
