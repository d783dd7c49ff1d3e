"""The `followup` command. Thin: parses arguments, loads the config, calls the package.

Exit codes: 0 ok; 1 something failed (details printed); 2 bad usage or config (every
problem listed, no traceback); 3 another instance is running; 75 temporary failure
(every account needs reconnecting or is unreachable); 130 interrupted (Ctrl-C); 141 the
reader of its output went away (`followup plan | head`).

Every command runs inside one error handler (`main`): whatever goes wrong becomes one line
on stderr, never a traceback (`--log-level debug` logs it, for a bug report).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from followup import __version__
from followup.terminal import printable

# Only what `--help` needs is imported up front (it should answer at once); pydantic,
# structlog and the rest come with the command that uses them.
if TYPE_CHECKING:
    from followup.config import Config, ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


def _common_options(p: argparse.ArgumentParser, *, default: object) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=default,
        help="config file (default: $FOLLOWUP_CONFIG, else the XDG config dir's followup.toml)",
    )
    p.add_argument(
        "--log-level",
        default=default,
        choices=["debug", "info", "warning", "error"],
        help="default: warning on a terminal (-v info, -vv debug, -q error), info otherwise "
             "(warning for demo, whose own report says what happened)",
    )
    p.add_argument(
        "--log-format",
        default="auto" if default is None else default,
        choices=["auto", "json", "console"],
        help="log format on stderr (auto: readable on a terminal, JSON otherwise)",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0 if default is None else default,
        help="on a terminal, show what the daemon does (-vv: debug); the default there is "
             "warnings and errors only",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", default=False if default is None else default,
        help="errors only",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="followup",
        description="Drafts your follow-ups after every meeting. It never sends anything.",
    )
    p.add_argument("--version", action="version", version=f"followup {__version__}")
    _common_options(p, default=None)
    # The same options after the command too (`followup run --once --config FILE`): there
    # they default to SUPPRESS so they do not overwrite a value given before the command.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, into: Any = sub) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = into.add_parser(name, parents=[common], help=text)
        return parser

    run = command("run", "run the daemon (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    run.add_argument("--dry-run", action="store_true", help="plan and print, write nothing")

    command("plan", "show what the next cycle would do, with skip reasons")

    status = command("status", "accounts, tokens, last sync, pending touches")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    undo = command("undo", "remove everything followup created, by key")
    undo.add_argument("--account", help="only this account")
    undo.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    command("doctor", "check config, permissions, tokens, clock and ledger")

    history = command("log", "what was created, dismissed, failed and skipped, and why")
    history.add_argument("--since", help="from this date (YYYY-MM-DD) or time, your zone")
    history.add_argument("--person", help="only this person (email address)")
    history.add_argument("--account", help="only this account")
    history.add_argument("--json", action="store_true", help="JSON Lines output")

    people = command("people", "the cadence per person: list, show, pause, resume, forget")
    people.add_argument("action", nargs="?", default="list",
                        choices=["list", "show", "pause", "resume", "forget"])
    people.add_argument("email", nargs="?", help="the person's address (all but list)")
    people.add_argument("--account", help="only this account")

    retry = command("retry", "write again now what waits for a retry or a paused account")
    retry.add_argument("--failed", action="store_true", help="also the writes given up")
    retry.add_argument("--account", help="only this account")

    demo = command("demo", "build a demo workspace on local files and run a cycle")
    demo.add_argument(
        "--workdir", type=Path, default=Path("followup-demo"),
        help="where to build it (default: ./followup-demo; in an earlier demo's folder "
             "only the demo's own files are renewed)",
    )
    demo.add_argument("--timezone", help="the demo user's time zone (default: this machine's)")

    connect = command("connect", "connect an account once (OAuth)")
    csub = connect.add_subparsers(dest="provider", required=True, metavar="PROVIDER")
    g = command("google", "Google Workspace / Gmail", csub)
    g.add_argument("--account", help="account name in the config (default: the only one)")
    g.add_argument("--client-secrets", type=Path, help="your Desktop OAuth client JSON")
    g.add_argument("--no-browser", action="store_true", help="print the URL, open nothing")
    g.add_argument("--import-token", type=Path, help="adopt an authorized-user token JSON")
    m = command("microsoft", "Microsoft 365 / Outlook", csub)
    m.add_argument("--account", help="account name in the config (default: the only one)")
    m.add_argument("--tenant", help="tenant id or domain (default: from config, else common)")
    m.add_argument("--client-id", help="application (client) id of your app registration")
    m.add_argument("--browser", action="store_true", help="interactive sign-in, not device code")

    init = command("init", "write a first config (asks on a terminal; flags for scripts)")
    init.add_argument("--name", help="your name, as it signs drafts")
    init.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                      help="one of your email addresses (repeat for each)")
    init.add_argument("--timezone", help="IANA zone, e.g. Europe/Berlin (default: this "
                      "machine's)")
    init.add_argument("--yes", action="store_true", help="ask nothing; use flags and defaults")
    init.add_argument("--force", action="store_true", help="replace an existing config")

    unit = command("install-unit", "write the systemd unit, with the folders the config names")
    where = unit.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="a user unit (the default)")
    where.add_argument("--system", action="store_true",
                       help="a drop-in for the followup@NAME system unit")
    unit.add_argument("--instance", help="NAME of followup@NAME (default: the config's name)")
    unit.add_argument("--output", type=Path, help="write here instead ('-': print it)")
    unit.add_argument("--force", action="store_true", help="replace an existing file")

    completion = command("completion", "print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    command("man", "print the manual page (roff): followup man | man -l -")
    # Company mode (docs/company.md): its own parsers, imported only when these run.
    for name, text in (("admin", "company mode: tenants, accounts, keys, queue status"),
                       ("worker", "company mode: run account syncs from PostgreSQL"),
                       ("ingest", "company mode: receive push notices, renew channels")):
        # No options of its own (prefix_chars): everything after it, --help too, is passed on.
        company = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        company.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _config_path(args: argparse.Namespace) -> Path:
    from followup.paths import default_config_path

    return args.config if args.config else default_config_path()


def _load(args: argparse.Namespace, err: TextIO) -> Config | None:
    from followup.config import ConfigError, load_config

    try:
        return load_config(_config_path(args))
    except ConfigError as e:
        print_config_error(e, err)
        return None


def print_config_error(e: ConfigError, err: TextIO) -> None:
    if not Path(e.source).exists() and e.source != "<config>":
        print(printable(f"followup: there is no config at {e.source}; `followup init` writes "
                        "one (or give --config FILE)"), file=err)
        return
    print(printable(f"followup: the config {e.source} cannot be used:"), file=err)
    for problem in e.problems:
        print(f"  - {printable(problem)}", file=err)


def _pick_account(config: Config, kind: str, name: str | None, err: TextIO) -> object | None:
    candidates = [a for a in config.accounts if a.kind == kind and (name is None or a.name == name)]
    if len(candidates) == 1:
        return candidates[0]
    which = f"named {name!r} " if name else ""
    if not candidates:
        print(f"followup: no {kind} account {which}in the config; add one:", file=err)
        print(f'  [[accounts]]\n  kind = "{kind}"\n  name = "work"', file=err)
    else:
        print(f"followup: several {kind} accounts; choose one with --account", file=err)
    return None


def _connect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from followup.config import GoogleAccount, MicrosoftAccount

    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    account = _pick_account(config, args.provider, args.account, err)
    if account is None:
        return EXIT_USAGE
    from followup.providers import missing_library

    try:
        if isinstance(account, GoogleAccount):
            from followup.providers.google import connect_google
        else:
            from followup.providers.microsoft import connect_microsoft
    except ModuleNotFoundError as e:  # a local-only install: say what to install
        assert isinstance(account, GoogleAccount | MicrosoftAccount)
        raise missing_library(account.kind, e) from None
    if isinstance(account, GoogleAccount):
        return connect_google(
            account, config, client_secrets=args.client_secrets, no_browser=args.no_browser,
            import_token=args.import_token, out=out,
        )
    assert isinstance(account, MicrosoftAccount)

    return connect_microsoft(
        account, config, tenant=args.tenant, client_id=args.client_id, browser=args.browser,
        out=out,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = sys.stderr
    args = _parser().parse_args(argv)
    from followup.log import configure_logging, level_for

    fmt = {"auto": None, "json": True, "console": False}[args.log_format]
    verbosity = -1 if args.quiet else args.verbose
    level = level_for(explicit=args.log_level, verbosity=verbosity, stream=err,
                      default="warning" if args.command == "demo" else "info")
    if level != "debug":  # debugging a cycle means running it
        answered = _from_snapshot(args, out)
        if answered is not None:
            return answered
    configure_logging(json=fmt, level=level)
    from followup.config import ConfigError

    try:
        code = _dispatch(args, out, err)
        out.flush()  # a closed pipe shows up here, inside the handler, not at exit
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout(out)
        return EXIT_PIPE_CLOSED
    except ConfigError as e:
        print_config_error(e, err)
        return EXIT_USAGE
    except Exception as e:  # the one place a failure becomes a message, never a traceback
        import structlog

        structlog.get_logger(__name__).debug("cli.command_failed", command=args.command,
                                             exc_info=True)
        with contextlib.suppress(OSError):  # stderr itself gone: nothing left to tell
            print(f"followup: {printable(explain(e))}", file=err)
        return EXIT_FAILED


def _from_snapshot(args: argparse.Namespace, out: TextIO) -> int | None:
    """An idle `run --once`, `status` or `plan` answered from the last round's snapshot
    (service.snapshot), before the engine or structlog is imported: it logs nothing (its
    output says the same as the full command's); None: run the command in full."""
    cmd = args.command
    if not (cmd in ("status", "plan") or (cmd == "run" and args.once and not args.dry_run)):
        return None
    from followup.service.snapshot import answer

    try:
        if not answer(cmd, _config_path(args), out, as_json=getattr(args, "json", False)):
            return None
        out.flush()
    except BrokenPipeError:
        _silence_stdout(out)
        return EXIT_PIPE_CLOSED
    return EXIT_OK


def explain(e: BaseException) -> str:
    """One line on what went wrong, in words: library errors translated, never a traceback."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from followup.errors import FollowupError

    if isinstance(e, DBAPIError | sqlite3.Error):
        orig = getattr(e, "orig", None) or e
        first = (str(orig).strip().splitlines() or [""])[0]
        return (f"the ledger cannot be used: {first} ({type(orig).__name__}); "
                "`followup doctor` checks it")
    if isinstance(e, SQLAlchemyError):
        first = (str(e).strip().splitlines() or [""])[0]
        return f"the ledger cannot be used: {first}; `followup doctor` checks it"
    if isinstance(e, FollowupError):
        return str(e)
    import requests

    if isinstance(e, requests.RequestException):  # before OSError: it is one
        host = urlsplit(e.request.url).hostname if e.request is not None and e.request.url \
            else None
        where = f" {host}" if host else ""
        return f"cannot reach{where}: {type(e).__name__} (check the network and the URL)"
    if isinstance(e, OSError):
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror or e}{where}"
    first = (str(e).strip().splitlines() or [""])[0]
    return (f"unexpected {type(e).__name__}: {first} (a bug: please report it with the "
            "output of --log-level debug)")


def _silence_stdout(out: TextIO) -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        pass


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cmd = args.command
    if cmd == "demo":
        from followup.demo.run import run_demo

        return run_demo(args.workdir, out=out, timezone=args.timezone)
    if cmd == "run":
        from followup.service.daemon import run_daemon

        return run_daemon(_config_path(args), once=args.once, dry_run=args.dry_run, out=out)
    if cmd == "status":
        from followup.service.status import show_status

        return show_status(_config_path(args), as_json=args.json, out=out)
    if cmd == "doctor":
        from followup.service.doctor import run_doctor

        return run_doctor(_config_path(args), out=out)
    if cmd == "connect":
        return _connect(args, out, err)
    if cmd == "ingest":
        from followup.push.admin import main_ingest

        return main_ingest(args.args, out, err)
    if cmd in ("admin", "worker"):
        from followup.company.admin import main_admin, main_worker

        return (main_admin if cmd == "admin" else main_worker)(args.args, out, err)
    if cmd in ("init", "install-unit", "completion", "man"):
        return _setup_command(args, out, err)
    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    if cmd == "plan":
        from followup.commands import plan_command

        return plan_command(config, out=out)
    if cmd == "undo":
        from followup.commands import undo_command

        return undo_command(config, account=args.account, yes=args.yes, out=out)
    if cmd == "log":
        from followup.service.history import show_log

        return show_log(config, since=args.since, person=args.person, account=args.account,
                        as_json=args.json, out=out, err=err)
    if cmd == "people":
        from followup.people import people_command

        return people_command(config, action=args.action, email=args.email,
                              account=args.account, out=out)
    if cmd == "retry":
        from followup.commands import retry_command

        return retry_command(config, account=args.account, failed=args.failed, out=out)
    raise AssertionError(f"unhandled command {cmd}")  # argparse rejects unknown commands


def _setup_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The commands that set followup up rather than run it."""
    cmd = args.command
    if cmd == "completion":
        import shtab

        out.write(shtab.complete(_parser(), shell=args.shell))
        return EXIT_OK
    if cmd == "man":
        from argparse_manpage.manpage import Manpage  # type: ignore[import-untyped]

        page = Manpage(_parser())
        page.source = f"followup {__version__}"
        page.manual = "User Commands"
        page.description = "drafts your meeting follow-ups (never sends them)"
        out.write(str(page))
        return EXIT_OK
    if cmd == "init":
        from followup.initconfig import run_init

        interactive = sys.stdin.isatty() and not args.yes
        return run_init(
            _config_path(args), name=args.name, addresses=args.address,
            timezone=args.timezone, yes=args.yes, force=args.force, out=out, err=err,
            ask=input if interactive else None,
        )
    from followup.service.unit import install_unit

    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    return install_unit(config, _config_path(args), system=args.system,
                        instance=args.instance, output=args.output, force=args.force,
                        out=out, err=err)


if __name__ == "__main__":
    raise SystemExit(main())
