"""`followup connect google`: obtain a grant in the browser, or adopt one made elsewhere.

The browser flow is google-auth-oauthlib's loopback flow (InstalledAppFlow.run_local_server on a
free port, PKCE, access_type=offline, prompt=consent so that a reconnect yields a new refresh
token). Without a display, or with --no-browser, the URL is printed instead of opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog
from google.auth.exceptions import RefreshError, TransportError

from followup.config import Config, GoogleAccount
from followup.errors import AuthError
from followup.providers.google._gauth import Request
from followup.providers.google.credentials import build_credentials, stamp_new_grant
from followup.providers.google.scopes import scopes_for
from followup.providers.google.tokens import OBTAINED_AT, parse_time, token_store

log = structlog.get_logger(__name__)

CONSENT_TIMEOUT_SECONDS = 600
PROMPT = (
    "Open this address in a browser on this computer and allow access for followup:\n\n"
    "    {url}\n\n"
    "(Waiting for Google to send you back here.)"
)
SUCCESS = "followup is connected. You can close this tab."


def can_open_browser() -> bool:
    """A browser can be opened: a desktop session (or macOS/Windows) and a browser found."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def connect_google(
    cfg: GoogleAccount,
    config: Config,
    *,
    client_secrets: Path | None,
    no_browser: bool,
    import_token: Path | None,
    out: TextIO,
    now: datetime | None = None,
) -> int:
    """Connect one Google account; returns the command's exit code."""
    now = now or datetime.now(UTC)
    if import_token is not None:
        return _import(cfg, config, import_token, out, now)
    secrets_path = client_secrets or (Path(cfg.client_secrets) if cfg.client_secrets else None)
    if secrets_path is None:
        print(
            "No OAuth client: pass --client-secrets FILE (the JSON of a Desktop OAuth client, "
            "see docs/google.md) or set client_secrets for the account.",
            file=out,
        )
        return 2
    from google_auth_oauthlib.flow import InstalledAppFlow  # only for this command

    try:
        flow = InstalledAppFlow.from_client_secrets_file(
            str(secrets_path), scopes=scopes_for(cfg)
        )
    except (OSError, ValueError) as e:
        print(f"Cannot use the client secrets file {secrets_path}: {e}", file=out)
        return 2
    open_browser = not no_browser and can_open_browser()
    try:
        with contextlib.redirect_stdout(out):  # the library prints the prompt itself
            credentials = flow.run_local_server(
                host="localhost",
                port=0,
                open_browser=open_browser,
                authorization_prompt_message=PROMPT,
                success_message=SUCCESS,
                timeout_seconds=CONSENT_TIMEOUT_SECONDS,
                prompt="consent",
            )
    except Exception as e:  # the flow raises oauthlib, requests and WSGI errors alike
        print(f"Google did not grant access: {type(e).__name__}: {_short(e)}", file=out)
        return 1
    if not credentials.refresh_token:
        print("Google sent no refresh token; run the command again.", file=out)
        return 1
    token: dict[str, Any] = dict(getattr(flow.oauth2session, "token", None) or {})
    info = json.loads(credentials.to_json())
    info["token_uri"] = cfg.token_uri
    granted = token.get("scope")
    if granted:
        info["scopes"] = granted.split() if isinstance(granted, str) else list(granted)
    expires_in = token.get("refresh_token_expires_in")
    info = stamp_new_grant(info, cfg, now, float(expires_in) if expires_in else None)
    return _store(cfg, config, info, out)


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else ""


def _import(cfg: GoogleAccount, config: Config, path: Path, out: TextIO, now: datetime) -> int:
    """Adopt an authorized-user JSON (Credentials.to_json(), gcloud's, or our own token file):
    refresh it once against the configured token endpoint to prove it works."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"Cannot read {path}: {e}", file=out)
        return 2
    if not isinstance(info, dict):
        print(f"{path} does not hold an authorized-user token.", file=out)
        return 2
    try:
        credentials = build_credentials(info, cfg)
        credentials.refresh(Request())
    except AuthError as e:
        print(f"{path}: {e}", file=out)
        return 2
    except RefreshError as e:
        print(f"Google refused the token in {path} ({_short(e)}).", file=out)
        return 1
    except TransportError as e:
        print(f"Cannot reach Google's token endpoint: {type(e).__name__}", file=out)
        return 1
    fresh = json.loads(credentials.to_json())
    # When the grant was made is unknown unless the file is one of ours: count from now.
    obtained = parse_time(info.get(OBTAINED_AT)) or now
    adopted = stamp_new_grant({**info, **fresh}, cfg, obtained, None)
    return _store(cfg, config, adopted, out)


def _store(cfg: GoogleAccount, config: Config, info: dict[str, Any], out: TextIO) -> int:
    store = token_store(cfg, config)
    try:
        store.save(info)
    except (OSError, AuthError) as e:
        print(f"Cannot store the token at {store.location}: {e}", file=out)
        return 1
    log.info("google.connected", account=cfg.name, store=store.location)
    print(f"Connected Google account {cfg.name!r}; token stored in {store.location}.", file=out)
    missing = sorted(set(scopes_for(cfg)) - set(info.get("scopes") or scopes_for(cfg)))
    if missing:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        print(f"Warning: these permissions were not granted: {names}. followup needs them; "
              "connect again and tick every box.", file=out)
        return 1
    if info.get("followup_refresh_expires_at"):
        print(f"Note: Google expires this grant on {info['followup_refresh_expires_at'][:16]} "
              "UTC while the OAuth app is in Testing status (docs/google.md).", file=out)
    return 0
