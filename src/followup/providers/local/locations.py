"""Where a configured calendar lives: a vdir folder, one .ics file, or an http(s) URL.

A location lists its items with a cheap signature (a stat for files, a content hash for a
URL) so a source can tell what changed without reading anything that did not.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import structlog

from followup.errors import InputError
from followup.providers.local.files import (
    MAX_ICS_BYTES,
    entry_path,
    entry_stat,
    fingerprint,
    is_hidden,
    read_limited,
    real_root,
)

if TYPE_CHECKING:  # requests is imported when a URL calendar is configured
    import requests

log = structlog.get_logger(__name__)

ICS_SUFFIX = ".ics"
CONNECT_TIMEOUT = 10.0  # seconds
FETCH_DEADLINE = 60.0  # seconds for a whole fetch, however slowly the server sends
MAX_CALENDAR_BYTES = 50 * 1024 * 1024  # a URL's body, while streaming
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    name: str  # path relative to the location, or the URL's label
    signature: str  # changes whenever the content may have changed
    read: Callable[[], bytes | None]  # None: it vanished meanwhile; InputError: skip it


class Location:
    """A calendar location. `items` raises InputError when the location cannot be listed."""

    label: str

    def items(self) -> list[Item]:
        raise NotImplementedError


def is_url(spec: str) -> bool:
    """A `calendars` entry that is fetched, not read from disk."""
    return spec.lower().startswith(("http://", "https://"))


def open_location(spec: str) -> Location:
    if is_url(spec):
        return UrlLocation(spec)
    return FileLocation(Path(spec).expanduser())


class FileLocation(Location):
    """A vdir (one .ics per event; khal and vdirsyncer layout, sub-calendars one level down)
    or a single .ics file. An idle pass costs one stat per file.

    An entry that cannot be used (a symlink out of the folder or in a loop, a file we may
    not read, one over MAX_ICS_BYTES) is still listed, as an item whose read raises
    InputError with the reason: the others go on, and the reason reaches the report."""

    def __init__(self, path: Path, *, missing_ok: bool = False) -> None:
        self.path = path
        self.label = str(path)
        self.missing_ok = missing_ok  # our own followups folder before the first block

    def items(self) -> list[Item]:
        if not os.path.lexists(self.path):
            if self.missing_ok:
                return []
            raise InputError(f"{self.label}: does not exist (check the `calendars` setting)")
        try:
            if self.path.is_file():
                st = self.path.stat()
                path = self.path
                return [Item(path.name, f"{st.st_mtime_ns}:{st.st_size}",
                             lambda: read_limited(path, MAX_ICS_BYTES))]
            return self._walk()
        except OSError as e:
            raise InputError(f"{self.label}: cannot list ({e.strerror or e})") from e

    def _walk(self) -> list[Item]:
        # os.scandir and DirEntry.stat: no Path objects and no second stat per file, so an
        # idle pass over 10,000 files stays well under a second.
        root = real_root(self.path)
        found: list[Item] = []
        with os.scandir(self.path) as top:
            for entry in top:
                if is_hidden(entry.name):
                    continue
                item = _entry_item(root, entry, entry.name)
                if item is not None:
                    found.append(item)
                elif _is_dir(root, entry):
                    found.extend(_sub_items(root, entry))
        return found


def _is_dir(root: str, entry: os.DirEntry[str]) -> bool:
    try:
        return stat.S_ISDIR(entry_stat(root, entry)[1].st_mode)
    except (InputError, OSError):
        return False  # reported by _entry_item when it matters


def _sub_items(root: str, folder: os.DirEntry[str]) -> list[Item]:
    """A sub-calendar one level down (khal, vdirsyncer): its .ics files, no deeper."""
    try:
        where = entry_path(root, folder.path, is_link=folder.is_symlink())
        with os.scandir(where) as sub:
            return [item for e in sub if not is_hidden(e.name)
                    and (item := _entry_item(root, e, f"{folder.name}/{e.name}")) is not None]
    except InputError as e:
        return [_problem(folder.name, str(e))]
    except OSError as e:
        return [_problem(folder.name, f"cannot list ({e.strerror or e}); skipped")]


def _entry_item(root: str, entry: os.DirEntry[str], rel: str) -> Item | None:
    """An .ics entry as an item (a problem item when it cannot be used); None otherwise."""
    is_link = entry.is_symlink()
    if not _is_ics(entry.name):
        if is_link and Path(entry.path).is_dir():  # a linked sub-calendar stays inside too
            try:
                entry_path(root, entry.path, is_link=True)
            except InputError as e:
                return _problem(rel, str(e))
        return None
    try:
        path, st = entry_stat(root, entry)
    except InputError as e:
        return _problem(rel, str(e))
    except OSError as e:
        return _problem(rel, f"cannot read ({e.strerror or e}); skipped")
    if not stat.S_ISREG(st.st_mode):
        return None if stat.S_ISDIR(st.st_mode) else _problem(rel, "not a regular file; skipped")
    return Item(rel, f"{st.st_mtime_ns}:{st.st_size}",
                lambda: read_limited(path, MAX_ICS_BYTES))


def _problem(rel: str, reason: str) -> Item:
    def read() -> bytes | None:
        raise InputError(reason)

    return Item(rel, f"unusable:{reason}", read)


def _is_ics(name: str) -> bool:
    return not is_hidden(name) and name.lower().endswith(ICS_SUFFIX)


class UrlLocation(Location):
    """A published .ics URL, fetched on every pass with If-None-Match / If-Modified-Since.

    A fetch has one deadline for the whole exchange (a server trickling a byte at a time
    cannot hold a cycle), a size cap while streaming, and never follows https to http."""

    def __init__(self, url: str, session: requests.Session | None = None, *,
                 deadline: float = FETCH_DEADLINE, max_bytes: int = MAX_CALENDAR_BYTES) -> None:
        self.url = url
        self.label = url_label(url)
        self.deadline = deadline
        self.max_bytes = max_bytes
        if session is None:
            import requests

            session = requests.Session()
        self._session = session
        self._etag: str | None = None
        self._modified: str | None = None
        self._body: bytes | None = None

    def items(self) -> list[Item]:
        body = self.fetch()
        return [Item(self.label, fingerprint(body), lambda: body)]

    def fetch(self) -> bytes:
        headers = {"Accept": "text/calendar, */*;q=0.5"}
        if self._body is not None:
            if self._etag:
                headers["If-None-Match"] = self._etag
            if self._modified:
                headers["If-Modified-Since"] = self._modified
        until = time.monotonic() + self.deadline
        response = self._get(self.url, headers, until)
        with response:
            if response.status_code == 304 and self._body is not None:
                return self._body
            if response.status_code != 200:
                raise InputError(f"{self.label}: HTTP {response.status_code}")
            body = self._bounded(response, until)
        self._body = body
        self._etag = response.headers.get("ETag")
        self._modified = response.headers.get("Last-Modified")
        return body

    def _get(self, url: str, headers: dict[str, str], until: float) -> requests.Response:
        """GET, following redirects by hand so that https -> http is refused before any
        request goes out in the clear."""
        import requests

        for _ in range(MAX_REDIRECTS + 1):
            left = until - time.monotonic()
            if left <= 0:
                raise InputError(f"{self.label}: no answer within {self.deadline:g} s")
            try:
                response = self._session.get(
                    url, headers=headers, stream=True, allow_redirects=False,
                    timeout=(min(CONNECT_TIMEOUT, left), left),
                )
            except requests.RequestException as e:
                raise InputError(f"{self.label}: cannot fetch ({type(e).__name__})") from None
            target = response.headers.get("Location") if response.is_redirect else None
            if target is None:
                return response
            response.close()
            nxt = urljoin(url, target)
            if urlsplit(url).scheme == "https" and urlsplit(nxt).scheme != "https":
                raise InputError(f"{self.label}: redirected from https to "
                                 f"{urlsplit(nxt).scheme or 'another scheme'}; refused")
            url = nxt
        raise InputError(f"{self.label}: more than {MAX_REDIRECTS} redirects")

    def _bounded(self, response: requests.Response, until: float) -> bytes:
        # read1 returns after one read from the socket, so the deadline is checked however
        # slowly the bytes come (iter_content would wait for a whole chunk).
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > until:
                raise InputError(f"{self.label}: not complete within {self.deadline:g} s")
            try:
                chunk = response.raw.read1(_CHUNK, decode_content=True)
            except Exception as e:  # urllib3's read timeouts, resets, bad gzip
                raise InputError(f"{self.label}: cannot fetch ({type(e).__name__})") from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise InputError(f"{self.label}: larger than {self.max_bytes} bytes")
            chunks.append(chunk)


def url_label(url: str) -> str:
    """How a calendar URL is shown anywhere (logs, errors, source names, `plan`).

    Calendar URLs often carry a secret (Google's private address holds a token in its path,
    others put it in the query or in user:password@): keep the scheme, the host and a file
    name that looks like one, and a short digest so two URLs on one host stay apart.
    """
    return f"{redact_url(url)}#{fingerprint(url.encode())[7:19]}"


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    shown = ""
    if segments:
        last = segments[-1]
        keep = len(last) <= 40 and last.lower().endswith((".ics", ".ical", ".ifb"))
        shown = ("/…" if len(segments) > 1 or not keep else "") + (f"/{last}" if keep else "")
    return f"{parts.scheme}://{host}{shown}"
