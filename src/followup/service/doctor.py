"""`followup doctor`: checks a setup and says what to do about each problem.

Checks, in order: the config (and that it is more than the unedited example); permissions
of the state dir (0700), token files and the ledger file (0600); that the config, templates
and output folders are not writable by other users (a shared host: whoever can edit them
can redirect drafts or change what they say); that every input folder exists and every
output folder is writable, also from inside the installed systemd unit's sandbox; each
account's credentials and granted scopes (no network); clock skew against the Date header
of a configured provider endpoint (skipped politely when none can be reached); the ledger's
reachability, schema version and integrity (read only: it never migrates).
"""

from __future__ import annotations

import os
import re
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

from followup.config import (
    Config,
    ConfigError,
    GoogleAccount,
    LocalAccount,
    MicrosoftAccount,
    load_config,
)
from followup.service.status import credentials_of
from followup.terminal import printable

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


def _others_can_write(path: Path) -> int:
    """The group/other write bits of `path` (0 when none, when it cannot be read, or for a
    sticky folder such as /tmp, where others cannot replace what is yours)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return 0
    if stat.S_ISDIR(mode) and mode & stat.S_ISVTX:
        return 0
    return stat.S_IMODE(mode) & 0o022


def check_shared_host(config: Config, config_path: Path) -> Iterator[Check]:
    """The config, templates and output folders must not be writable by other users."""
    # The config's folder too: whoever may write it can replace the file.
    watched: list[tuple[str, Path]] = [("config", config_path),
                                       ("config folder", config_path.resolve().parent)]
    if config.templates_dir:
        tdir = Path(config.templates_dir)
        watched.append(("templates dir", tdir))
        if tdir.is_dir():
            watched += [("template", t) for t in sorted(tdir.iterdir()) if t.is_file()]
    for what, folder in _outputs(config):
        watched.append((what, folder))
    bad = False
    for what, p in watched:
        bits = _others_can_write(p)
        if bits:
            bad = True
            who = "everyone" if bits & 0o002 else "its group"
            yield Check(Verdict.FAIL, f"{what} {p} is writable by {who} (mode {_mode(p):04o}): "
                        "another user could change what followup writes or where",
                        f"chmod go-w {p}")
    if not bad:
        yield Check(Verdict.OK, "config, templates and output folders are writable by you only")


def _outputs(config: Config) -> list[tuple[str, Path]]:
    """(what, folder) for every folder a local account writes to."""
    found = []
    for a in config.accounts:
        if not isinstance(a, LocalAccount):
            continue
        if a.maildir:
            found.append((f"account {a.name}: drafts folder",
                          Path(a.maildir) / a.drafts_folder if a.drafts_folder
                          else Path(a.maildir)))
        if a.contacts:
            found.append((f"account {a.name}: contacts folder", Path(a.contacts)))
        if a.followups:
            found.append((f"account {a.name}: follow-ups calendar", Path(a.followups)))
    return found


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def check_folders(config: Config) -> Iterator[Check]:
    """Every input folder exists; every output folder is (or can be made) writable."""
    for a in config.accounts:
        if not isinstance(a, LocalAccount):
            continue
        name = f"account {a.name}"
        for cal in a.calendars:
            if "://" in cal:
                continue
            if Path(cal).exists():
                yield Check(Verdict.OK, f"{name}: calendar {cal} exists")
            else:
                yield Check(Verdict.FAIL, f"{name}: calendar {cal} does not exist",
                            "fix the path in `calendars` (a vdir folder or an .ics file)")
        if a.maildir:
            root = Path(a.maildir)
            if not root.is_dir():
                yield Check(Verdict.FAIL, f"{name}: Maildir {root} does not exist",
                            "fix `maildir` (followup never creates a Maildir root: a misspelt "
                            "one would collect drafts where no mail client looks)")
            else:
                inputs = {*a.invitations_folders, *a.sent_folders, *a.received_folders}
                for sub in sorted(inputs):
                    folder = root / sub if sub else root
                    if not folder.is_dir():
                        yield Check(Verdict.FAIL, f"{name}: mail folder {folder} does not "
                                    "exist", "fix the folder name in the config (\"\" is the "
                                    "INBOX, Maildir++ subfolders start with a dot)")
                yield from _writable_check(name, "drafts folder", root / a.drafts_folder
                                           if a.drafts_folder else root)
        for what, out_folder in (("contacts folder", a.contacts),
                                 ("follow-ups calendar", a.followups)):
            if out_folder:
                yield from _writable_check(name, what, Path(out_folder))


def _writable_check(name: str, what: str, folder: Path) -> Iterator[Check]:
    if folder.is_dir():
        if _writable(folder):
            yield Check(Verdict.OK, f"{name}: {what} {folder} is writable")
        else:
            yield Check(Verdict.FAIL, f"{name}: {what} {folder} is not writable by this user",
                        f"chown or chmod u+w {folder}")
        return
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is not None and parent.is_dir() and _writable(parent):
        yield Check(Verdict.OK, f"{name}: {what} {folder} will be created on the first write")
    else:
        yield Check(Verdict.FAIL, f"{name}: {what} {folder} does not exist and cannot be "
                    "created here", "create it, or fix the path in the config")


def _unit_settings(unit: Path) -> tuple[str, list[Path]]:
    """ProtectHome= and the ReadWritePaths= of a unit file and its drop-ins (last wins)."""
    home = str(Path.home())
    protect = "no"
    paths: list[Path] = []
    files = [unit, *sorted(unit.parent.joinpath(unit.name + ".d").glob("*.conf"))]
    for f in files:
        try:
            text = f.read_text("utf-8", errors="replace")
        except OSError:
            continue
        for key, value in re.findall(r"^\s*(ProtectHome|ReadWritePaths)\s*=\s*(.*)$", text,
                                     re.M):
            if key == "ProtectHome":
                protect = value.strip() or "no"
            elif not value.strip():
                paths = []  # an empty assignment resets the list
            else:
                for word in value.split():
                    word = word.lstrip("-+").replace("%h", home).replace("%%", "%")
                    paths.append(Path(word.replace("\\x20", " ")))
    return protect, paths


def check_unit(config: Config) -> Iterator[Check]:
    """The installed user unit can write every output folder from inside its sandbox."""
    from followup.service.unit import user_unit_path

    unit = user_unit_path()
    if not unit.is_file():
        return
    protect, rw = _unit_settings(unit)
    if protect not in ("yes", "read-only", "tmpfs", "true"):
        yield Check(Verdict.OK, f"systemd unit {unit}: home folder not protected")
        return
    home = Path.home().resolve()
    blocked = []
    for _what, folder in _outputs(config):
        f = folder.resolve()
        if not _under(f, home) or any(_under(f, p.resolve()) for p in rw):
            continue
        blocked.append(str(f))
    if blocked:
        yield Check(Verdict.FAIL, f"systemd unit {unit} cannot write " + ", ".join(blocked)
                    + f" (ProtectHome={protect} and no ReadWritePaths= for them)",
                    "followup install-unit --user --force (or add ReadWritePaths= with "
                    "`systemctl --user edit followup`), then systemctl --user daemon-reload")
    else:
        yield Check(Verdict.OK, f"systemd unit {unit} can write every output folder")


def _under(p: Path, folder: Path) -> bool:
    try:
        p.relative_to(folder)
    except ValueError:
        return False
    return True


def not_configured(config: Config) -> list[str]:
    """What the unedited example (or a half-edited config) still lacks; [] when set up."""
    missing = []
    if not config.user.addresses:
        missing.append("[user] addresses is empty (followup must know which attendee is you)")
    local_inputs = any(isinstance(a, LocalAccount) and (a.calendars or a.maildir)
                       for a in config.accounts)
    online = any(not isinstance(a, LocalAccount) for a in config.accounts)
    if config.accounts and not (local_inputs or online):
        missing.append("no account reads a calendar (the local account's `calendars` is empty)")
    return missing


def _missing_library(acfg: object) -> str | None:
    """Why an online account cannot run here (its extra is not installed), else None."""
    if isinstance(acfg, LocalAccount) or not isinstance(acfg, GoogleAccount | MicrosoftAccount):
        return None
    import importlib

    from followup.providers import missing_library

    try:
        importlib.import_module(f"followup.providers.{acfg.kind}")
    except ModuleNotFoundError as e:
        return str(missing_library(acfg.kind, e))
    return None


def check_credentials(config: Config) -> Iterator[Check]:
    for acfg in config.accounts:
        name = f"account {acfg.name} ({acfg.kind})"
        library = _missing_library(acfg)
        if library:
            yield Check(Verdict.FAIL, f"{name}: {library.split(': pip install')[0]}",
                        f"pip install 'followup[{acfg.kind}]' (pipx: pipx install --force "
                        f"'followup[{acfg.kind}]')")
            continue
        info = credentials_of(acfg, config)
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


def _host(url: str) -> str:
    """A URL's host and port only: the user:password@, path and query of a calendar URL
    are secrets (a private calendar address), and doctor's output is shared in bug reports."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.hostname or ''}{port}"


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
        host = _host(u)
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
            unreachable.append(f"{_host(url)} ({type(e).__name__})")
            continue
        date = resp.headers.get("Date")
        if not date:
            unreachable.append(f"{_host(url)} (no Date header)")
            continue
        try:
            theirs = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            unreachable.append(f"{_host(url)} (bad Date header)")
            continue
        skew = (datetime.now(UTC) - theirs).total_seconds()
        host = _host(url)
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
    yield from _integrity(url, shown)
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


def _integrity(url: str, shown: str) -> Iterator[Check]:
    """The ledger's own integrity check (SQLite's integrity_check, every table readable)."""
    from followup.ledger.connect import make_engine
    from followup.ledger.store import integrity_problems

    engine = make_engine(url)
    try:
        problems = integrity_problems(engine)
    finally:
        engine.dispose()
    for p in problems:
        yield Check(Verdict.FAIL, f"ledger {shown} {p}",
                    "stop followup and move the damaged ledger aside (keep it); on the next "
                    "start a new ledger adopts what followup already wrote instead of writing "
                    "it again")
    if not problems:
        yield Check(Verdict.OK, f"ledger {shown} passes its integrity check")


def check_writes(config: Config) -> Iterator[Check]:
    """Failed writes and paused accounts are problems (service.status.write_problems)."""
    from followup.service.status import write_problems

    for what, fix in write_problems(config):
        yield Check(Verdict.FAIL, what, fix)


def run_checks(config: Config, config_path: Path | None = None) -> Iterator[Check]:
    yield from check_permissions(config)
    if config_path is not None:
        yield from check_shared_host(config, config_path)
    yield from check_folders(config)
    yield from check_unit(config)
    yield from check_credentials(config)
    yield from check_clock(config)
    yield from check_ledger(config)
    yield from check_writes(config)


def run_doctor(config_path: Path, *, out: TextIO) -> int:
    """`followup doctor`: 0 all good, 1 problems found, 2 the config cannot be used."""
    if not config_path.exists():
        _print(out, Check(Verdict.FAIL, f"no config at {config_path}",
                          "`followup init` writes one there (or point --config at yours)"))
        return 2
    try:
        config = load_config(config_path)
    except ConfigError as e:
        print(printable(f"[FAIL] config {e.source}:"), file=out)
        for p in e.problems:
            print(f"         - {printable(p)}", file=out)
        print(f"       -> fix these lines in {printable(config_path)}; `followup doctor` "
              "checks it again", file=out)
        return 2
    n = len(config.accounts)
    print(printable(f"[ok]   config {config_path}: {n} account{'s' if n != 1 else ''}"),
          file=out)
    failed = n == 0
    if failed:
        print("[FAIL] no account configured -> add an [[accounts]] table", file=out)
    missing = not_configured(config)
    for m in missing:
        _print(out, Check(Verdict.FAIL, f"not configured yet: {m}",
                          f"edit {config_path} (or start over with `followup init --force`)"))
    for check in run_checks(config, config_path):
        _print(out, check)
        failed = failed or check.verdict is Verdict.FAIL
    if missing:
        print("\nNot configured yet; see the -> lines.", file=out)
        return 1
    print("\nSome checks failed; see the -> lines." if failed else "\nAll good.", file=out)
    return 1 if failed else 0


def _print(out: TextIO, check: Check) -> None:
    print(f"[{check.verdict.value}]".ljust(7) + printable(check.what), file=out)
    if check.fix:
        print(f"       -> {printable(check.fix)}", file=out)
    out.flush()
