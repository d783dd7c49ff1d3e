"""Drafts as RFC 5322 messages, with headers we encode ourselves and check before saving.

Why not let the email package write the headers: its modern header classes parse every value
they are given, RFC 2047 encoded-words included, and then write the decoded text. A meeting
title or an attendee name holding `=?utf-8?b?...?=` that decodes to "x\\r\\nBcc: ..." or to
"Name <other@example>, Bob" would become a real header line or a second recipient, whatever
cleaning was done on the raw text. So here:
- a value that a reader could decode (one holding "=?", or non-ASCII, or a word too long to
  fold) is RFC 2047-encoded by us as a whole, so that decoding it gives back the literal text;
- the rendered message is parsed again with `email.policy.strict` and refused (UnsafeMessage)
  unless it has exactly the headers we wrote, exactly the intended recipients, and a subject
  and names that decode to what we meant.
The body is still the email package's work (`set_content`): it has no header to inject into.
"""

from __future__ import annotations

import email.policy
import itertools
import re
from collections.abc import Sequence
from datetime import datetime
from email.charset import Charset
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, quote

from followup.core.text import one_line
from followup.model import DraftPayload

MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be no longer than this
# An encoded-word of at most this many characters (RFC 2047 §2 allows 75) fits on a folded
# line next to the longest header name we write ("Message-ID: ").
_EW_LENGTH = 64
# A word longer than this cannot be folded as plain text and still fit a line.
_LONG_WORD = MAX_LINE - len("Subject: ")
_UTF8 = Charset("utf-8")
# RFC 5322 specials: a display name holding one must be a quoted-string, not atoms.
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_MESSAGE_ID = re.compile(r"<[!#-'*+/-9=?A-Z^-~.-]+@[!#-'*+/-9=?A-Z^-~.-]+>")
# Headers set_content writes for the body; with ours, the only ones a draft may carry.
_BODY_HEADERS = ("Content-Type", "Content-Transfer-Encoding", "MIME-Version")
_RECIPIENT_HEADERS = ("To", "Cc", "Bcc", "Reply-To")


class UnsafeMessage(ValueError):
    """A rendered draft that does not say exactly what was meant (recipients, headers)."""


def display_name(name: str | None) -> str | None:
    """A display name for From/To: one line; None when empty or when it holds an address
    (a name such as "boss@example.com" next to another address is a spoofing aid)."""
    clean = one_line(name, 120)
    return clean if clean and "@" not in clean else None


def usable_address(addr: str) -> str:
    """`addr` if it is a plain ASCII addr-spec we can write as is; ValueError otherwise.

    No encoded-words, no comments or spaces, and nothing the email package would read
    differently from how it is written (it decodes "=?...?=" even inside an address).
    """
    clean = one_line(addr, 320)
    if not clean or clean != addr.strip() or not clean.isascii() or " " in clean:
        raise ValueError(f"not a usable email address: {addr!r}")
    if "=?" in clean:
        raise ValueError(f"not a usable email address: {addr!r}")
    try:
        parsed = Address(addr_spec=clean)
    except (ValueError, IndexError) as e:  # the email package's parser errors
        raise ValueError(f"not a usable email address: {addr!r}") from e
    if parsed.addr_spec != clean or not parsed.username or not parsed.domain:
        raise ValueError(f"not a usable email address: {addr!r}")
    return clean


# How many earlier messages a reply's References names (the latest ones; RFC 5322 allows
# trimming, and a long thread must not make a huge header).
MAX_REFERENCES = 20


def render_mime(draft: DraftPayload, *, date: datetime) -> bytes:
    """The draft as an RFC 5322 message (CRLF line ends), ready for a Drafts folder.

    Header values are reduced to one line and encoded here (see the module docstring); the
    result is parsed again and checked before it is returned. Raises ValueError for an
    address that is not a valid addr-spec, UnsafeMessage (a ValueError) when the check fails.
    """
    if date.tzinfo is None:
        raise ValueError("the Date of a message must be timezone-aware")
    if not draft.to:
        raise ValueError("a draft needs at least one recipient")
    to = [(display_name(name), usable_address(addr)) for name, addr in draft.to]
    sender = (
        (display_name(draft.from_addr[0]), usable_address(draft.from_addr[1]))
        if draft.from_addr is not None
        else None
    )
    subject = one_line(draft.subject, 998)
    message_id = one_line(draft.message_id, 998).replace(" ", "")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a usable Message-ID: {draft.message_id!r}")

    # A later touch replies in a thread: ids read from mail the user exchanged, so any that
    # is not a plain msg-id is dropped (the draft then starts its own thread) rather than
    # written.
    refs = [r for r in (_msg_id(x) for x in draft.references[-MAX_REFERENCES:]) if r]
    in_reply_to = _msg_id(draft.in_reply_to) if draft.in_reply_to else None
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    threading = {"In-Reply-To": in_reply_to or "", "References": " ".join(refs)}
    headers: list[tuple[str, str]] = []
    if sender is not None:
        headers.append(("From", _address_list([sender], "From")))
    headers += [
        ("To", _address_list(to, "To")),
        ("Subject", _unstructured(subject, "Subject")),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
    ]
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if refs:
        headers.append(("References", "\r\n ".join(refs)))  # folded between ids
    body = EmailMessage(policy=email.policy.SMTP)
    body.set_content(draft.body.replace("\r\n", "\n"))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    raw = head + body.as_bytes()
    _check(raw, sender=sender, to=to, subject=subject, message_id=message_id,
           threading={k: v for k, v in threading.items() if v})
    return raw


def _msg_id(value: str | None) -> str | None:
    clean = one_line(value, 998).replace(" ", "")
    return clean if _MESSAGE_ID.fullmatch(clean) else None


# --- writing headers ----------------------------------------------------------------------


def _needs_encoding(text: str) -> bool:
    """Whether plain text would not survive as written: a reader decodes "=?", the header
    must be ASCII, and a word too long for a line cannot be folded."""
    return (
        "=?" in text
        or not text.isascii()
        or any(len(word) > _LONG_WORD for word in text.split(" "))
    )


def _encoded_words(text: str, length: int) -> list[str]:
    """`text` as RFC 2047 encoded-words of at most `length` characters (UTF-8, B or Q,
    whichever is shorter); decoding them gives `text` back, "=?" included."""
    return [w for w in _UTF8.header_encode_lines(text, itertools.repeat(length)) if w]


def _fold(words: Sequence[str], name: str) -> str:
    """Words joined by single spaces, a space turned into a fold where a line would pass
    MAX_LINE (unfolding, which only removes the CRLF, gives the words back)."""
    lines = [words[0]] if words else [""]
    used = len(name) + 2 + len(lines[0])
    for word in words[1:]:
        if used + 1 + len(word) > MAX_LINE:
            lines.append(word)
            used = 1 + len(word)
        else:
            lines[-1] += " " + word
            used += 1 + len(word)
    return "\r\n ".join(lines)


def _unstructured(text: str, name: str) -> str:
    """A Subject-like value. Encoded as a whole when needed: readers drop the space between
    two encoded-words, so the text's spaces are inside the encoded words."""
    if _needs_encoding(text):
        return _fold(_encoded_words(text, _EW_LENGTH), name)
    return _fold(text.split(" "), name)


def _phrase(name: str) -> list[str]:
    """A display name as the words of an RFC 5322 phrase.

    One encoded-word for the whole name when it needs encoding (names are at most 120
    characters): Python's parser puts a space between adjacent encoded-words in a phrase,
    where RFC 2047 says none, so a name split across several would read back differently.
    """
    if _needs_encoding(name):
        return _encoded_words(name, 10_000)
    if _SPECIALS.search(name):
        return [f'"{quote(name)}"']
    return name.split(" ")


def _address_list(mailboxes: Sequence[tuple[str | None, str]], name: str) -> str:
    words: list[str] = []
    for i, (phrase, addr) in enumerate(mailboxes):
        box = [*_phrase(phrase), f"<{addr}>"] if phrase else [addr]
        if i < len(mailboxes) - 1:
            box[-1] += ","
        words += box
    return _fold(words, name)


# --- checking what was written ------------------------------------------------------------


def check_recipients(raw: bytes, expected: Sequence[str]) -> None:
    """Raise UnsafeMessage unless `raw` is addressed to exactly `expected`, in order: one
    To header holding those addresses, read the same way by a strict parser and by one that
    decodes nothing, and no Cc, Bcc, Reply-To or Resent-* header at all."""
    msg = _parse_strict(raw)
    extra = [k for k in msg if k.lower().startswith("resent-")]
    for name in _RECIPIENT_HEADERS[1:]:
        if msg.get_all(name):
            extra.append(name)
    if extra:
        raise UnsafeMessage(f"draft carries recipient headers it must not: {sorted(set(extra))}")
    to = msg.get_all("To") or []
    if len(to) != 1:
        raise UnsafeMessage(f"draft has {len(to)} To headers, not one")
    header = to[0]
    defects: Sequence[object] = getattr(header, "defects", ())
    if not isinstance(header, AddressHeader) or defects:
        raise UnsafeMessage("draft's To header does not parse cleanly")
    want = list(expected)
    views = {
        "parsed": [a.addr_spec for a in header.addresses],
        "decoded": [addr for _, addr in getaddresses([str(header)])],
        "raw": [addr for _, addr in getaddresses(_raw_values(raw, "To"))],
    }
    for view, got in views.items():
        if got != want:
            raise UnsafeMessage(
                f"draft's To ({view}) holds {len(got)} address(es) other than the "
                f"{len(want)} intended"
            )


def _parse_strict(raw: bytes) -> EmailMessage:
    try:
        msg = BytesParser(policy=email.policy.strict).parsebytes(raw)
    except Exception as e:  # strict raises on any defect: a draft we wrote must have none
        raise UnsafeMessage(
            f"draft does not parse strictly ({type(e).__name__}); {_lenient_recipients(raw)}"
        ) from e
    if msg.defects:
        raise UnsafeMessage(f"draft has defects: {[type(d).__name__ for d in msg.defects]}")
    assert isinstance(msg, EmailMessage)  # the strict policy's message factory
    return msg


def _lenient_recipients(raw: bytes) -> str:
    """What a lenient reader would take for recipients, said in numbers (for the refusal)."""
    try:
        msg = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
        counts = {h: len(getaddresses([str(v) for v in msg.get_all(h) or []]))
                  for h in _RECIPIENT_HEADERS}
    except Exception as e:  # nothing more to say about a message no parser reads
        return f"unreadable even leniently ({type(e).__name__})"
    return ", ".join(f"{h}: {n}" for h, n in counts.items() if n) or "no recipients"


def _raw_values(raw: bytes, name: str) -> list[str]:
    """A header's values as written (unfolded, not decoded): what a reader that does not
    decode encoded-words before splitting addresses sees."""
    msg = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    return [re.sub(r"\r?\n", "", str(v)) for v in msg.get_all(name) or []]


def _check(
    raw: bytes,
    *,
    sender: tuple[str | None, str] | None,
    to: Sequence[tuple[str | None, str]],
    subject: str,
    message_id: str,
    threading: dict[str, str] | None = None,
) -> None:
    check_recipients(raw, [addr for _, addr in to])
    msg = _parse_strict(raw)
    threading = threading or {}
    ours = ["From"] if sender is not None else []
    ours += ["To", "Subject", "Date", "Message-ID", *threading, *_BODY_HEADERS]
    names = sorted(k.lower() for k in msg)
    if names != sorted(n.lower() for n in ours):
        raise UnsafeMessage(f"draft's headers are {sorted(msg)}, not the ones written")
    for name in ours:
        header = msg[name]
        if getattr(header, "defects", ()):
            raise UnsafeMessage(f"draft's {name} header does not parse cleanly")
    if str(msg["Subject"]) != subject:
        raise UnsafeMessage("draft's Subject does not read back as written")
    if str(msg["Message-ID"]) != message_id:
        raise UnsafeMessage("draft's Message-ID does not read back as written")
    for name, value in threading.items():
        if " ".join(str(msg[name]).split()) != value:
            raise UnsafeMessage(f"draft's {name} does not read back as written")
    if getattr(msg["Date"], "datetime", None) is None:
        raise UnsafeMessage("draft's Date does not read back as a date")
    _check_mailboxes(msg["To"], to, "To")
    if sender is not None:
        _check_mailboxes(msg["From"], [sender], "From")


def _check_mailboxes(header: object, want: Sequence[tuple[str | None, str]], name: str) -> None:
    if not isinstance(header, AddressHeader):
        raise UnsafeMessage(f"draft's {name} is not an address header")
    got = [(a.display_name, a.addr_spec) for a in header.addresses]
    if got != [(phrase or "", addr) for phrase, addr in want]:
        raise UnsafeMessage(f"draft's {name} names or addresses do not read back as written")
