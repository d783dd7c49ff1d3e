"""Where a configured calendar lives: a vdir folder, one .ics file, or an http(s) URL.

A location lists its items with a cheap signature (a stat for files, a content hash for a
URL) so a source can tell what changed without reading anything that did not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
import structlog

from followup.errors import InputError
from followup.providers.local.files import fingerprint, is_hidden, read_bytes

log = structlog.get_logger(__name__)

ICS_SUFFIX = ".ics"
HTTP_TIMEOUT = (10.0, 30.0)  # connect, read (seconds)
MAX_CALENDAR_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    name: str  # path relative to the location, or the URL
    signature: str  # changes whenever the content may have changed
    read: Callable[[], bytes | None]  # None: it vanished meanwhile


class Location:
    """A calendar location. `items` raises InputError when the location cannot be listed."""

    label: str

    def items(self) -> list[Item]:
        raise NotImplementedError


def open_location(spec: str) -> Location:
    if spec.lower().startswith(("http://", "https://")):
        return UrlLocation(spec)
    return FileLocation(Path(spec).expanduser())


class FileLocation(Location):
    """A vdir (one .ics per event; khal and vdirsyncer layout, sub-calendars one level down)
    or a single .ics file. An idle pass costs one stat per file."""

    def __init__(self, path: Path, *, missing_ok: bool = False) -> None:
        self.path = path
        self.label = str(path)
        self.missing_ok = missing_ok  # our own followups folder before the first block

    def items(self) -> list[Item]:
        if self.missing_ok and not self.path.exists():
            return []
        try:
            if self.path.is_file():
                st = self.path.stat()
                path = self.path
                return [Item(path.name, f"{st.st_mtime_ns}:{st.st_size}",
                             lambda: read_bytes(path))]
            return self._walk()
        except OSError as e:
            raise InputError(f"{self.label}: cannot list ({e.strerror or e})") from e

    def _walk(self) -> list[Item]:
        # os.scandir and DirEntry.stat: no Path objects and no second stat per file, so an
        # idle pass over 10,000 files stays well under a second.
        found: list[Item] = []
        with os.scandir(self.path) as top:
            for entry in top:
                if is_hidden(entry.name):
                    continue
                if entry.is_dir():
                    with os.scandir(entry.path) as sub:
                        found.extend(
                            _entry_item(e, f"{entry.name}/{e.name}")
                            for e in sub
                            if _is_ics(e.name) and e.is_file()
                        )
                elif _is_ics(entry.name) and entry.is_file():
                    found.append(_entry_item(entry, entry.name))
        return found


def _entry_item(entry: os.DirEntry[str], rel: str) -> Item:
    st = entry.stat()
    path = entry.path
    return Item(rel, f"{st.st_mtime_ns}:{st.st_size}", lambda: read_bytes(Path(path)))


def _is_ics(name: str) -> bool:
    return not is_hidden(name) and name.lower().endswith(ICS_SUFFIX)


class UrlLocation(Location):
    """A published .ics URL, fetched on every pass with If-None-Match / If-Modified-Since."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url
        # The URL may hold a secret: name it by host and a digest, never in full.
        self.label = f"{_redact(url)}#{fingerprint(url.encode())[7:19]}"
        self._session = session or requests.Session()
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
        try:
            response = self._session.get(self.url, headers=headers, timeout=HTTP_TIMEOUT,
                                         stream=True)
        except requests.RequestException as e:
            raise InputError(f"{self.label}: cannot fetch ({type(e).__name__})") from e
        with response:
            if response.status_code == 304 and self._body is not None:
                return self._body
            if response.status_code != 200:
                raise InputError(f"{self.label}: HTTP {response.status_code}")
            body = _bounded(response)
        self._body = body
        self._etag = response.headers.get("ETag")
        self._modified = response.headers.get("Last-Modified")
        return body


def _bounded(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_CALENDAR_BYTES:
            raise InputError(f"{response.url}: larger than {MAX_CALENDAR_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _redact(url: str) -> str:
    """Calendar URLs often carry a secret token (Google's private address): log the host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{'/…' if parts.path not in ('', '/') else ''}"
