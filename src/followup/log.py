"""Logging: structlog, readable on a terminal, JSON lines otherwise (journald, containers).

Logs go to stderr so that command output on stdout stays clean. A redaction processor drops
the values of fields whose names say they hold a secret or a message body: those never reach
a log line, whoever logs them.

Event names are `area.what_happened` in snake case ("daemon.cycle_done", "draft.created"):
one style, so `jq 'select(.event | startswith("daemon."))'` finds a whole area.

Under journald (JOURNAL_STREAM names our stderr) each line starts with its syslog priority
(`<3>` for an error), which journald strips and records, so `journalctl -p err` works.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

from followup.terminal import printable, use_color

_SECRET_WORDS = ("token", "secret", "password", "authorization", "body", "raw", "code_verifier")

# syslog(3) priorities, as sd-daemon(3) prefixes: <3> error, <4> warning, <6> info, <7> debug.
_PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6,
             "debug": 7}

# -q / default / -v / -vv on a terminal; operators' info events (cycle done, reloaded) are
# noise there: the command prints its own report. Without a terminal (journald, a container)
# the default stays info, which is what an operator reads.
_VERBOSITY = {-1: "error", 0: "warning", 1: "info", 2: "debug"}


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for k in list(event):
        if k != "event" and any(w in k.lower() for w in _SECRET_WORDS):
            event[k] = "[redacted]"
    return event


def _inert(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """On a terminal, text from calendars and mail is shown escaped, never obeyed."""
    for k, v in event.items():
        if isinstance(v, str):
            event[k] = printable(v, keep_newlines=k == "exception")
    return event


class _WithPriority:
    """Wraps a renderer: each line starts with `<N>`, its syslog priority, for journald."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        priority = _PRIORITY.get(str(event.get("level", name)), 6)
        rendered = self.renderer(logger, name, event)
        # A multi-line entry (a traceback) gets the prefix on every line: journald splits it.
        return "\n".join(f"<{priority}>{line}" for line in str(rendered).split("\n"))


def under_journald(stream: TextIO) -> bool:
    """True when `stream` is the journal stream systemd gave us (JOURNAL_STREAM=dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # a StringIO, a closed stream
        return False
    dev, _, ino = value.partition(":")
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def level_for(*, explicit: str | None, verbosity: int, stream: TextIO, default: str = "info"
              ) -> str:
    """--log-level wins; else -v/-q on a terminal; else `default` (info for journald)."""
    if explicit:
        return explicit
    if verbosity or stream_isatty(stream):
        return _VERBOSITY[max(-1, min(2, verbosity))]
    return default


def stream_isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(
    *, json: bool | None = None, level: str = "info", stream: TextIO | None = None
) -> None:
    """Set up structlog for the process. `json=None` picks JSON unless `stream` is a terminal."""
    # Imported here: a command answered from the snapshot (service.snapshot) logs nothing
    # and should not pay for structlog (asyncio and all) at start-up.
    import logging

    import structlog

    out = stream or sys.stderr
    tty = stream_isatty(out)
    use_json = (not tty) if json is None else json
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        structlog.processors.format_exc_info,
    ]
    renderer: Any
    if use_json:
        renderer = structlog.processors.JSONRenderer()  # JSON escapes control characters
    else:
        processors.append(_inert)
        renderer = structlog.dev.ConsoleRenderer(colors=use_color(out))
    if under_journald(out):
        renderer = _WithPriority(renderer)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
