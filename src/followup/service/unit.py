"""`followup install-unit`: the shipped systemd unit, made to fit this config.

The shipped units keep the file system read-only except the state dir. A local account
writes drafts into a Maildir, contacts into a vdir and blocks into a calendar folder: the
unit must name each as `ReadWritePaths=`, or every write fails with EROFS. This module
computes those folders from the config and writes
- `--user`: a complete user unit (~/.config/systemd/user/followup.service) whose ExecStart
  is this followup and whose ReadWritePaths are the config's folders;
- `--system`: a drop-in for the `followup@NAME` template instance
  (/etc/systemd/system/followup@NAME.service.d/50-followup-paths.conf).
Every hardening line of the shipped unit is kept as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from followup.config import Config, LocalAccount
from followup.paths import default_config_path
from followup.terminal import printable

DROPIN_NAME = "50-followup-paths.conf"
# Folders that ProtectHome= hides (yes) or makes read-only.
_HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"))


def shipped_unit(name: str) -> str:
    """The text of a unit shipped in the package ("followup.service", "followup@.service")."""
    return resources.files("followup.service").joinpath("units", name).read_text("utf-8")


@dataclass(frozen=True)
class WritablePaths:
    existing: list[Path]
    missing: list[Path]  # named by the config but absent: listed with "-", and reported


def writable_paths(config: Config) -> WritablePaths:
    """Every folder the config's accounts write to, outside the state dir.

    A Maildir is written in its drafts folder (or its root while that folder does not exist);
    a SQLite ledger outside the state dir needs its folder (SQLite writes a journal beside it).
    """
    wanted: list[Path] = []
    for a in config.accounts:
        if not isinstance(a, LocalAccount):
            continue
        if a.maildir:
            root = Path(a.maildir).expanduser()
            drafts = root / a.drafts_folder if a.drafts_folder else root
            wanted.append(drafts if drafts.is_dir() else root)
        for folder in (a.contacts, a.followups):
            if folder:
                wanted.append(Path(folder).expanduser())
    state = config.state_path()
    url = config.ledger_url()
    if url.startswith("sqlite:///"):
        db_dir = Path(url.removeprefix("sqlite:///")).parent
        if not _inside(db_dir, state):
            wanted.append(db_dir)
    if config.state_dir:
        wanted.append(state)
    seen: list[Path] = []
    for p in wanted:
        p = p.resolve()
        if p not in seen:
            seen.append(p)
    return WritablePaths([p for p in seen if p.exists()], [p for p in seen if not p.exists()])


def prepare_folders(config: Config) -> list[Path]:
    """Create the state dir and the contacts and follow-ups folders that do not exist yet.

    Inside the unit's sandbox their parents are read-only, so the daemon could not create
    them on its first write. A Maildir root is never created (a typo would collect drafts
    where no mail client looks); `followup doctor` names it instead.
    """
    wanted = [config.state_path()] + [
        Path(folder).expanduser() for a in config.accounts if isinstance(a, LocalAccount)
        for folder in (a.contacts, a.followups) if folder]
    created = []
    for p in wanted:
        if not p.exists():
            p.mkdir(mode=0o700, parents=True)
            created.append(p)
    return created


def _inside(p: Path, folder: Path) -> bool:
    try:
        p.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _escape(p: Path) -> str:
    """A path as a unit file value: systemd specifiers (%) and spaces escaped."""
    text = str(p).replace("%", "%%")
    return text.replace("\\", "\\\\").replace(" ", "\\x20")


def _rw_lines(paths: WritablePaths) -> list[str]:
    return [f"ReadWritePaths={_escape(p)}" for p in paths.existing] + [
        f"ReadWritePaths=-{_escape(p)}" for p in paths.missing]


def followup_executable() -> str:
    """This followup's command, absolute: the unit must not depend on a login shell's PATH."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "followup" and argv0.exists():
        return str(argv0.resolve())
    found = shutil.which("followup")
    return str(Path(found).resolve()) if found else str(Path(sys.executable).parent / "followup")


def user_unit(config: Config, config_path: Path, *, executable: str | None = None) -> str:
    """The shipped user unit with this followup, this config and its folders."""
    text = shipped_unit("followup.service")
    exe = executable or followup_executable()
    text = re.sub(r"^ExecStart=.*$", f"ExecStart={_escape(Path(exe))} run", text,
                  count=1, flags=re.M)
    text = text.replace(
        "\n# The rest of the home folder is read-only",
        "\n# Generated by `followup install-unit --user` from " + _comment(config_path) + "."
        "\n# The rest of the home folder is read-only", 1)
    lines = _rw_lines(writable_paths(config))
    if config_path.expanduser().resolve() != default_config_path().expanduser().resolve():
        lines.insert(0, f"Environment=FOLLOWUP_CONFIG={_escape(config_path.resolve())}")
    # The generated lines go after the shipped ReadWritePaths= (the usual folders stay).
    anchor = list(re.finditer(r"^ReadWritePaths=.*\n", text, flags=re.M))
    at = anchor[-1].end() if anchor else text.index("[Service]\n") + len("[Service]\n")
    return text[:at] + "".join(line + "\n" for line in lines) + text[at:]


def system_dropin(config: Config, config_path: Path) -> str:
    """A drop-in for followup@NAME: its folders writable, the home folders visible if used."""
    paths = writable_paths(config)
    lines = ["# Generated by `followup install-unit --system` from " + _comment(config_path),
             "[Service]"]
    every = [*paths.existing, *paths.missing]
    if any(_inside(p, root) for p in every for root in _HOME_ROOTS):
        # ProtectHome=yes hides /home; the folders named below live there.
        lines.append("ProtectHome=read-only")
    lines += _rw_lines(paths)
    return "\n".join(lines) + "\n"


def _comment(p: Path) -> str:
    return re.sub(r"[\r\n]", "?", str(p))


def user_unit_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / "followup.service"


def system_dropin_path(instance: str) -> Path:
    return Path("/etc/systemd/system") / f"followup@{instance}.service.d" / DROPIN_NAME


def install_unit(config: Config, config_path: Path, *, system: bool, instance: str | None,
                 output: Path | None, force: bool, out: TextIO, err: TextIO) -> int:
    """`followup install-unit`: 0 written (or printed), 1 refused (the file exists)."""
    if str(output) != "-":
        for created in prepare_folders(config):
            print(printable(f"Created {created} (the sandbox cannot create it later)"), file=out)
    paths = writable_paths(config)
    if system:
        name = instance or config_path.stem
        text = system_dropin(config, config_path)
        target = output or system_dropin_path(name)
        then = (f"systemctl daemon-reload && systemctl enable --now followup@{name} "
                "(the followup@.service template is in the package: `followup install-unit "
                "--system --output -` prints only this drop-in)")
    else:
        text = user_unit(config, config_path)
        target = output or user_unit_path()
        then = ("systemctl --user daemon-reload && systemctl --user enable --now followup; "
                "loginctl enable-linger \"$USER\" keeps it running while you are logged out")
    for p in paths.missing:
        print(printable(f"followup: warning: {p} does not exist yet; the unit lists it with "
                        "'-' (ignored while absent)"), file=err)
    if str(target) == "-":
        out.write(text)
        return 0
    if target.exists() and not force:
        print(printable(f"followup: {target} exists; --force replaces it, --output - prints "
                        "the new one"), file=err)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(target)
    print(printable(f"Wrote {target}"), file=out)
    for p in [*paths.existing, *paths.missing]:
        print(printable(f"  writable: {p}"), file=out)
    print(printable(f"Next: {then}"), file=out)
    return 0
