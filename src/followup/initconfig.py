"""`followup init`: a first config, commented, from the shipped example.

It asks for the user's name, addresses and time zone on a terminal (or takes --name,
--address, --timezone for scripts), and fills in the local account from the folders khal,
khard and mutt already use, read from their usual config files. The result is checked with
the same validation as `followup run` before it is written, so `init` never leaves a config
that the daemon refuses.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from followup.config import ConfigError, parse_config
from followup.terminal import printable

EXAMPLE = "followup.example.toml"


def example_config() -> str:
    """The example config shipped in the package (the repository's config/ links to it)."""
    return resources.files("followup").joinpath(EXAMPLE).read_text("utf-8")


@dataclass
class Detected:
    """What other mail and calendar tools on this machine already use."""

    calendars: list[str] = field(default_factory=list)
    contacts: str | None = None
    maildir: str | None = None
    drafts_folder: str | None = None
    sent_folder: str | None = None
    inbox_folder: str | None = None
    sources: list[str] = field(default_factory=list)  # "khal (~/.config/khal/config)", ...


def _config_home(home: Path) -> Path:
    env = os.environ.get("XDG_CONFIG_HOME")
    return Path(env) if env else home / ".config"


def _first_file(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", errors="replace")
    except OSError:
        return ""


def _expand(value: str, home: Path) -> str:
    value = value.strip().strip("'\"")
    if value == "~" or value.startswith("~/"):
        value = str(home) + value[1:]
    return os.path.expandvars(value)


def _section_paths(text: str, section: str) -> list[str]:
    """`path = ...` values inside a configobj top-level [section] (khal, khard)."""
    found, inside = [], False
    for line in text.splitlines():
        top = re.match(r"^\s*\[([^\[\]]+)\]\s*$", line)
        if top:
            inside = top.group(1).strip() == section
            continue
        m = re.match(r"^\s*path\s*=\s*(.+?)\s*$", line)
        if inside and m:
            found.append(m.group(1))
    return found


def _khal(home: Path, d: Detected) -> None:
    conf = _first_file([_config_home(home) / "khal" / "config", home / ".khal" / "khal.conf"])
    if conf is None:
        return
    for value in _section_paths(_read(conf), "calendars"):
        pattern = _expand(value, home)
        # khal's "discover" calendars are absolute glob patterns (~/.calendars/*).
        globbed = sorted(glob.glob(pattern))  # noqa: PTH207 - an absolute pattern
        for p in globbed if any(c in pattern for c in "*?[") else [pattern]:
            if Path(p).is_dir() and p.rstrip("/") not in d.calendars:
                d.calendars.append(p.rstrip("/"))
    d.sources.append(f"khal ({conf})")


def _khard(home: Path, d: Detected) -> None:
    conf = _first_file([_config_home(home) / "khard" / "khard.conf",
                        home / ".khard" / "khard.conf"])
    if conf is None:
        return
    books = [_expand(v, home) for v in _section_paths(_read(conf), "addressbooks")]
    d.contacts = next((b.rstrip("/") for b in books if Path(b).is_dir()), None)
    d.sources.append(f"khard ({conf})")


_MUTT_SET = re.compile(
    r"""^\s*set\s+(folder|postponed|record|spoolfile)\s*=\s*("[^"]*"|'[^']*'|\S+)""", re.M)


def _mutt(home: Path, d: Detected) -> None:
    conf = _first_file([home / ".muttrc", home / ".mutt" / "muttrc",
                        _config_home(home) / "mutt" / "muttrc", home / ".neomuttrc",
                        _config_home(home) / "neomutt" / "neomuttrc"])
    if conf is None:
        return
    values = {k: _expand(v, home) for k, v in _MUTT_SET.findall(_read(conf))}
    root = values.get("folder")
    if not root or not _is_maildir_root(Path(root)):
        return
    d.maildir = root.rstrip("/")
    d.sources.append(f"mutt ({conf})")

    def relative(key: str) -> str | None:
        v = values.get(key)
        if not v:
            return None
        if v[0] in "+=":
            return v[1:]
        try:
            return str(Path(v).relative_to(root))
        except ValueError:
            return None

    d.drafts_folder = relative("postponed")
    d.sent_folder = relative("record")
    d.inbox_folder = relative("spoolfile")


def _is_maildir_root(p: Path) -> bool:
    """A Maildir (cur/new/tmp) or a folder of Maildirs (mbsync, offlineimap)."""
    if (p / "cur").is_dir():
        return True
    try:
        return p.is_dir() and any((c / "cur").is_dir() for c in p.iterdir())
    except OSError:
        return False


def detect(home: Path | None = None) -> Detected:
    home = home or Path.home()
    d = Detected()
    for finder in (_khal, _khard, _mutt):
        finder(home, d)
    return d


def _toml(value: object) -> str:
    """A TOML value: JSON's strings and lists of strings are valid TOML."""
    return json.dumps(value, ensure_ascii=False)


def _set(text: str, section: str, key: str, value: object) -> str:
    """Set `key` (commented out or not) in the first `section` ("[user]", "[[accounts]]")."""
    start = text.index(f"\n{section}\n")
    m = re.compile(rf"^(# ?)?{re.escape(key)} = .*?(\s+#.*)?$", re.M).search(text, start)
    assert m, f"{key} missing from the example config"
    comment = m.group(2) or ""
    return text[: m.start()] + f"{key} = {_toml(value)}{comment}" + text[m.end():]


def render_config(*, name: str, addresses: list[str], timezone: str, detected: Detected
                  ) -> str:
    # The example's opening paragraph is about copying it: replaced by what this file is.
    text = example_config().split("\n\n", 1)[1]
    header = ("# followup's config, written by `followup init`; every other key shows its\n"
              "# default. Relative paths are relative to this file; unknown keys are errors.\n"
              "# `followup doctor` checks it; `followup plan` shows what it would do.\n\n")
    text = header + text
    text = _set(text, "[user]", "name", name)
    text = _set(text, "[user]", "addresses", addresses)
    text = _set(text, "[user]", "timezone", timezone)
    if detected.calendars:
        text = _set(text, "[[accounts]]", "calendars", detected.calendars)
    if detected.maildir:
        text = _set(text, "[[accounts]]", "maildir", detected.maildir)
        if detected.drafts_folder is not None:
            text = _set(text, "[[accounts]]", "drafts_folder", detected.drafts_folder)
        if detected.sent_folder is not None:
            text = _set(text, "[[accounts]]", "sent_folders", [detected.sent_folder])
        if detected.inbox_folder is not None:
            for key in ("invitations_folders", "received_folders"):
                text = _set(text, "[[accounts]]", key, [detected.inbox_folder])
    if detected.contacts:
        text = _set(text, "[[accounts]]", "contacts", detected.contacts)
    return text


Ask = Callable[[str], str]


def _ask_until_valid(ask: Ask, out: TextIO, question: str, default: str,
                     check: Callable[[str], object]) -> str:
    for _ in range(3):
        answer = ask(f"{question} [{default}]: " if default else f"{question}: ").strip()
        answer = answer or default
        try:
            check(answer)
        except ValueError as e:
            print(f"  {printable(e)}", file=out)
            continue
        return answer
    raise ValueError(f"no valid answer to {question!r}")


def _check_name(_: str) -> None:
    return None


def _check_addresses(answer: str) -> None:
    from followup.config import _addresses

    _addresses(_split(answer))


def _check_zone(answer: str) -> None:
    from followup.config import UserConfig

    try:
        UserConfig(timezone=answer)
    except Exception as e:
        raise ValueError(f"unknown time zone {answer!r}; e.g. Europe/Berlin") from e


def _split(answer: str) -> list[str]:
    return [a for a in re.split(r"[,\s]+", answer) if a]


def _default_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0]
    except (ImportError, KeyError):
        return ""


def run_init(
    path: Path, *, name: str | None, addresses: list[str], timezone: str | None, yes: bool,
    force: bool, out: TextIO, err: TextIO, ask: Ask | None = None, home: Path | None = None,
) -> int:
    """`followup init`: 0 written, 1 refused (the file exists), 2 answers that do not fit."""
    from followup.demo.run import local_zone

    if path.exists() and not force:
        print(f"followup: {printable(path)} already exists; `followup doctor` checks it "
              "(or `followup init --force` replaces it)", file=err)
        return 1
    detected = detect(home)
    if ask is not None and not yes:
        print(printable(f"A first config at {path}; Enter keeps the [default]."), file=out)
        try:
            if name is None:
                name = _ask_until_valid(ask, out, "Your name, as it signs drafts",
                                        _default_name(), _check_name)
            if not addresses:
                addresses = _split(_ask_until_valid(
                    ask, out, "Your email addresses (comma-separated)", "", _check_addresses))
            if timezone is None:
                timezone = _ask_until_valid(ask, out, "Your time zone", local_zone().key,
                                            _check_zone)
        except (ValueError, EOFError) as e:
            print(f"followup: {printable(e)}", file=err)
            return 2
    text = render_config(name=name or "", addresses=addresses,
                         timezone=timezone or local_zone().key, detected=detected)
    try:
        parse_config(text, str(path), path.parent)
    except ConfigError as e:
        print("followup: these answers do not make a usable config:", file=err)
        for p in e.problems:
            print(f"  - {printable(p)}", file=err)
        return 2
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Wrote {printable(path)}.", file=out)
    for source in detected.sources:
        print(f"  found {printable(source)}", file=out)
    if detected.calendars:
        print(f"  calendars: {printable(', '.join(detected.calendars))}", file=out)
    if detected.maildir:
        print(f"  Maildir: {printable(detected.maildir)}", file=out)
    if detected.contacts:
        print(f"  contacts: {printable(detected.contacts)}", file=out)
    if not addresses:
        print("  add your addresses under [user] before the first run", file=out)
    print("Next: `followup doctor`, then `followup plan` to see what it would do.", file=out)
    return 0
