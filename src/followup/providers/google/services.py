"""googleapiclient service objects for Calendar, Gmail and People, at configurable base URLs.

`static_discovery=True` reads the discovery documents bundled with the library (no network).
`client_options.api_endpoint` replaces rootUrl + servicePath, so the Calendar URL carries its
path ("…/calendar/v3/") while Gmail's and People's paths start at the root ("gmail/v1/…",
"v1/people…"): the config defaults mirror that. Batch and media uploads, which would still go
to Google's rootUrl, are not used.

Built once per process and shared by every account. googleapiclient builds a collection's
method objects from the discovery document each time its accessor is called
(`calendar.events()` parses a dozen method descriptions): that was about a fifth of an idle
cycle's CPU. Here each (API, version, base URL) is built once, and each collection once, and
kept. Nothing in them belongs to an account: the account's http (its credentials) is given to
every request when it runs (`Caller` calls `execute(http=...)`), so the shared objects hold a
stand-in http that refuses to send anything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from googleapiclient.discovery import build

from followup.config import GoogleAccount

# Distinct (API, version, base URL) kept: a few per configured Google endpoint.
_KEPT_SERVICES = 32


class NoAccountHttp:
    """The http of the shared service objects. A request executed without its account's
    http would go out without credentials: it fails here instead."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a Google request must be executed with its account's http")

    def close(self) -> None:
        """Nothing to close: it never opens a connection."""


class Collection:
    """A googleapiclient Resource whose nested collections are built on first use and kept.

    Attribute access is passed through; an accessor of a nested collection (`events`,
    `users`, `messages`, ...) returns the same kept Collection on every call.
    """

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probing: not an API name
            raise AttributeError(name)
        attr = getattr(self._resource, name)
        if not getattr(attr, "__is_resource__", False):  # a method (list, get_next, ...)
            self.__dict__[name] = attr
            return attr
        kept: list[Collection] = []

        def nested() -> Collection:
            if not kept:
                with self._lock:
                    if not kept:
                        kept.append(Collection(attr()))
            return kept[0]

        self.__dict__[name] = nested  # later look-ups skip __getattr__
        return nested


def _endpoint(url: str) -> str:
    return url if url.endswith("/") else url + "/"


@lru_cache(maxsize=_KEPT_SERVICES)
def service(name: str, version: str, url: str) -> Collection:
    """The service object of one API at one base URL, built once per process."""
    return Collection(build(
        name,
        version,
        http=NoAccountHttp(),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": _endpoint(url)},
    ))


@dataclass
class Services:
    calendar: Any
    gmail: Any
    people: Any

    @classmethod
    def for_account(cls, cfg: GoogleAccount) -> Services:
        return cls(
            calendar=service("calendar", "v3", cfg.calendar_url),
            gmail=service("gmail", "v1", cfg.gmail_url),
            people=service("people", "v1", cfg.people_url),
        )
