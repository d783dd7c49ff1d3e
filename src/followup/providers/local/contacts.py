"""Contacts in a vdir address book (one .vcf per contact: khard, vdirsyncer, Evolution).

A card we create is `<key>.vcf`, carries X-FOLLOWUP-KEY and its note. A card the user already
has for the address keeps every byte it had: our note goes in as one more NOTE line before
END:VCARD, in the card's own vCard version and line endings, tagged "[followup:<key>]" in its
text (parameters and groups get lost when other clients rewrite a card; the text survives),
and undo deletes exactly that line. Our own note lines never count as the user's edits.

A card that cannot be used (a symlink out of the folder or in a loop, one we may not read,
one over MAX_VCF_BYTES) is left alone with a logged reason; the others still count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
import vobject

from followup.errors import EnvironmentFailure, InputError, ProviderError
from followup.model import (
    ContactPayload,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
    WriteResult,
)
from followup.providers.local.files import (
    MAX_VCF_BYTES,
    atomic_write,
    create_exclusive,
    entry_path,
    entry_stat,
    file_mode,
    fingerprint,
    is_hidden,
    read_limited,
    real_root,
)

log = structlog.get_logger(__name__)

KEY_PROPERTY = "X-FOLLOWUP-KEY"
_TAG = re.compile(r"\[followup:([0-9a-v]{32})\]")
_FOLD = re.compile(r"\r?\n[ \t]")
_EMAIL = re.compile(r"^(?:[\w-]+\.)?EMAIL[^:\n]*:[ \t]*(?:mailto:)?([^\s;]+)", re.I | re.M)
_VERSION = re.compile(r"^VERSION:[ \t]*([\d.]+)", re.I | re.M)
_KEYPROP = re.compile(r"^X-FOLLOWUP-KEY[^:\n]*:[ \t]*([0-9a-v]{32})", re.I | re.M)


def tag(key: str) -> str:
    return f"[followup:{key}]"


@dataclass(frozen=True, slots=True)
class _Card:
    name: str
    signature: str
    emails: frozenset[str]
    keys: frozenset[str]  # tags in notes and X-FOLLOWUP-KEY
    problem: str | None = None  # why it is left alone (logged once per change of the file)


def _unfold(text: str) -> str:
    return _FOLD.sub("", text)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # old Outlook exports


class VdirContacts:
    def __init__(self, folder: Path, *, create: bool = True) -> None:
        self.folder = folder
        # A configured address book must exist: a misspelled one is never created (no
        # client would read it). A default folder of ours is created when needed.
        self.create = create
        self._index: dict[str, _Card] = {}

    # --- Target -------------------------------------------------------------------------

    def ensure(self, key: str, payload: ContactPayload, *, recovering: bool) -> WriteResult:
        # The lookup is cheap (cached by stat), so it runs even when not recovering.
        found = self._find(key)
        if found is not None:
            name, text = found
            return WriteResult(WriteOutcome.EXISTED, name, self._fingerprint(key, name, text))
        self._check_folder()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        email = payload.email.strip().lower()
        for card in self._cards():
            if email in card.emails:
                fp = self._annotate(card.name, email, key, payload.note)
                if fp is not None:
                    return WriteResult(WriteOutcome.ANNOTATED, card.name, fp)
        name = f"{key}.vcf"
        data = _new_card(key, payload)
        if not create_exclusive(self.folder / name, data):  # a racing writer got there first
            return WriteResult(WriteOutcome.EXISTED, name, _card_fingerprint(key, _decode(data)))
        log.info("contact.created", file=name)
        return WriteResult(WriteOutcome.CREATED, name, _card_fingerprint(key, _decode(data)))

    def _check_folder(self) -> None:
        """A configured address book that is not there (unmounted, renamed, misspelled) says
        nothing about our cards: never report them as deleted by the user, never create it."""
        if not self.create and not self.folder.is_dir():
            raise EnvironmentFailure(f"address book {self.folder} does not exist; create it "
                                     "or fix `contacts` in the config")

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        self._check_folder()
        found = self._find(key)
        if found is None:
            return RemoteState.MISSING
        name, text = found
        now = self._fingerprint(key, name, text)
        return RemoteState.PRESENT if fingerprint in (None, now) else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        self._check_folder()
        found = self._find(key)
        if found is None:
            return RemoveOutcome.GONE
        name, text = found
        if fingerprint is None or self._fingerprint(key, name, text) != fingerprint:
            return RemoveOutcome.KEPT
        path = self.folder / name
        if name == f"{key}.vcf":
            path.unlink(missing_ok=True)
            self._index.pop(name, None)
            log.info("contact.removed", file=name)
            return RemoveOutcome.REMOVED
        stripped = _strip_note(text, key)
        atomic_write(path, stripped.encode("utf-8"), mode=file_mode(path))
        log.info("contact.note_removed", file=name)
        return RemoveOutcome.REMOVED

    # --- lookups --------------------------------------------------------------------------

    def _find(self, key: str) -> tuple[str, str] | None:
        """The card holding our write for `key`: our own file, or a card with our note."""
        own = self._read(f"{key}.vcf")
        if own is not None:
            return f"{key}.vcf", _decode(own)
        for card in self._cards():
            if key in card.keys:
                data = self._read(card.name)
                if data is not None and key in _keys(_unfold(_decode(data))):
                    return card.name, _decode(data)
        return None

    def _read(self, name: str) -> bytes | None:
        """A card's bytes; None when it is gone or a link we do not follow. A card we may
        not read raises InputError: that is not the same as the user deleting it."""
        path = self.folder / name
        try:
            where = entry_path(real_root(self.folder), str(path), is_link=path.is_symlink())
        except InputError:
            return None
        return read_limited(where, MAX_VCF_BYTES)

    def _fingerprint(self, key: str, name: str, text: str) -> str:
        if name == f"{key}.vcf":
            return _card_fingerprint(key, text)
        line = _note_line(text, key)
        return fingerprint((line or "").encode("utf-8"))

    def _cards(self) -> Iterator[_Card]:
        """Every card in the folder, read again only when its stat changed."""
        try:
            entries = [e for e in os.scandir(self.folder)
                       if not is_hidden(e.name) and e.name.lower().endswith(".vcf")]
        except FileNotFoundError:
            return
        current = {e.name for e in entries}
        for name in [n for n in self._index if n not in current]:
            del self._index[name]
        root = real_root(self.folder)
        for e in sorted(entries, key=lambda e: e.name):
            try:
                st = e.stat()
            except FileNotFoundError:
                continue
            except OSError:  # a link in a loop, a folder we may not search: _read_card says
                st = e.stat(follow_symlinks=False)
            sig = f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"
            card = self._index.get(e.name)
            if card is None or card.signature != sig:
                card = _read_card(root, e, sig)
                if card is None:
                    continue
                self._index[e.name] = card
            if card.problem is None:
                yield card

    # --- annotate -------------------------------------------------------------------------

    def _annotate(self, name: str, email: str, key: str, note: str) -> str | None:
        path = self.folder / name
        data = self._read(name)
        if data is None:
            return None
        text = _decode(data)
        updated = _add_note(text, email, key, note)
        if updated is None:
            return None
        atomic_write(path, updated.encode("utf-8"), mode=file_mode(path))
        log.info("contact.annotated", file=name)
        return fingerprint((_note_line(updated, key) or "").encode("utf-8"))


def _read_card(root: str, entry: os.DirEntry[str], sig: str) -> _Card | None:
    """What the address book needs of one card; a card that cannot be used is remembered
    with its reason (logged now, not again until the file changes)."""
    try:
        path, _ = entry_stat(root, entry)
        data = read_limited(path, MAX_VCF_BYTES)
    except FileNotFoundError:
        return None
    except (InputError, OSError) as e:
        reason = str(e) if isinstance(e, InputError) else f"cannot read ({e.strerror}); skipped"
        log.warning("contact.card_skipped", file=entry.name, reason=reason)
        return _Card(entry.name, sig, frozenset(), frozenset(), reason)
    if data is None:
        return None
    text = _unfold(_decode(data))
    emails = frozenset(m.group(1).strip().lower() for m in _EMAIL.finditer(text))
    return _Card(entry.name, sig, emails, frozenset(_keys(text)))


def _keys(unfolded: str) -> set[str]:
    return set(_TAG.findall(unfolded)) | set(_KEYPROP.findall(unfolded))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _new_card(key: str, payload: ContactPayload) -> bytes:
    card = vobject.vCard()
    card.add("version").value = "3.0"
    card.add("uid").value = f"{key}@followup.invalid"
    display = _one_line(payload.display_name or "") or payload.email
    card.add("fn").value = display
    card.add("n").value = vobject.vcard.Name(
        family=_one_line(payload.family_name or ""), given=_one_line(payload.given_name or "")
    )
    email = card.add("email")
    email.value = payload.email.strip().lower()
    email.type_param = "INTERNET"
    if payload.organization:
        card.add("org").value = [_one_line(payload.organization)]
    card.add("note").value = f"{_one_line(payload.note)} {tag(key)}"
    card.add("categories").value = [_one_line(payload.group)]
    card.add(KEY_PROPERTY.lower()).value = key
    try:
        text: str = card.serialize()
    except Exception as e:  # vobject validates while serialising
        raise ProviderError(f"cannot write a vCard for {payload.email}: {e}") from e
    return text.encode("utf-8")


def _logical_lines(text: str) -> list[list[str]]:
    """Physical lines (with their endings) grouped into logical lines (RFC 6350 3.2)."""
    groups: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if line[:1] in (" ", "\t") and groups:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _content(group: list[str]) -> str:
    return "".join(line.rstrip("\r\n") if i == 0 else line.rstrip("\r\n")[1:]
                   for i, line in enumerate(group))


def _card_fingerprint(key: str, text: str) -> str:
    """A card we created, as the user could have changed it: our later notes excluded."""
    lines = [
        _content(g) for g in _logical_lines(text)
        if not any(k != key for k in _TAG.findall(_content(g)))
    ]
    return fingerprint("\n".join(lines).encode("utf-8"))


def _note_line(text: str, key: str) -> str | None:
    for g in _logical_lines(text):
        content = _content(g)
        if tag(key) in content:
            return content
    return None


def _strip_note(text: str, key: str) -> str:
    return "".join("".join(g) for g in _logical_lines(text) if tag(key) not in _content(g))


def _add_note(text: str, email: str, key: str, note: str) -> str | None:
    """`text` with our NOTE line added to the first card that has `email`."""
    groups = _logical_lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    start: int | None = None
    for i, g in enumerate(groups):
        content = _content(g).strip().upper()
        if content == "BEGIN:VCARD":
            start = i
        elif content == "END:VCARD" and start is not None:
            card = "\n".join(_content(x) for x in groups[start:i])
            if email in {m.group(1).strip().lower() for m in _EMAIL.finditer(card)}:
                version = _VERSION.search(card)
                line = _note_property(version.group(1) if version else "3.0", note, key)
                folded = _fold(line, newline)
                before = "".join("".join(x) for x in groups[:i])
                if before and not before.endswith("\n"):
                    before += newline
                return before + folded + "".join("".join(x) for x in groups[i:])
            start = None
    return None


def _note_property(version: str, note: str, key: str) -> str:
    value = f"{_one_line(note)} {tag(key)}"
    if version.startswith("2."):
        # vCard 2.1: no backslash escapes for commas; a charset for anything non-ASCII.
        value = value.replace(";", "\\;")
        return f"NOTE;CHARSET=UTF-8:{value}" if not value.isascii() else f"NOTE:{value}"
    escaped = (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,"))
    return f"NOTE:{escaped}"


def _fold(line: str, newline: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 sequence (RFC 6350 3.2)."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += n
    out.append(current)
    return newline.join(out) + newline
