"""googleapiclient service objects for Calendar, Gmail and People, at configurable base URLs.

`static_discovery=True` reads the discovery documents bundled with the library (no network).
`client_options.api_endpoint` replaces rootUrl + servicePath, so the Calendar URL carries its
path ("…/calendar/v3/") while Gmail's and People's paths start at the root ("gmail/v1/…",
"v1/people…"): the config defaults mirror that. Batch and media uploads, which would still go
to Google's rootUrl, are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from googleapiclient.discovery import build

from followup.config import GoogleAccount
from followup.providers.google.transport import SessionHttp


def _endpoint(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _build(name: str, version: str, http: SessionHttp, url: str) -> Any:
    return build(
        name,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": _endpoint(url)},
    )


@dataclass
class Services:
    calendar: Any
    gmail: Any
    people: Any

    @classmethod
    def build(cls, cfg: GoogleAccount, http: SessionHttp) -> Services:
        return cls(
            calendar=_build("calendar", "v3", http, cfg.calendar_url),
            gmail=_build("gmail", "v1", http, cfg.gmail_url),
            people=_build("people", "v1", http, cfg.people_url),
        )
