"""Microsoft sign-in with msal: connect once, then silent tokens from a persisted cache.

Files, all under <state dir>/tokens/ (dir 0700, files 0600):
- <account>.msal.json   msal's SerializableTokenCache (or <account>.msal.bin, encrypted by
                        msal-extensions when `encrypt_token_cache` is set and it works here);
- <account>.msal-app.json  the client id and tenant used at connect time, so the daemon
                        signs in with the same app even when they came from the command line;
- <account>.msal-http.bin  msal's http cache (the authority's OpenID configuration, for a day),
                        so that a new process with a valid token makes no request at all;
- <account>.reconnect   present while the grant is revoked or expired: `followup status`
                        shows "needs reconnect" without a network call.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import msal
import requests
import structlog

from followup.config import Config, MicrosoftAccount
from followup.errors import AuthError, TransientError
from followup.protocols import CredentialInfo
from followup.providers import token_path
from followup.providers.microsoft.graph import PinnedSession

log = structlog.get_logger(__name__)

# Delegated Graph permissions (docs/microsoft.md says why each one). msal adds openid, profile
# and offline_access itself and refuses them here.
SCOPES = ("Calendars.ReadWrite", "Contacts.ReadWrite", "Mail.ReadWrite", "User.Read")
# The tenant id of personal Microsoft accounts (outlook.com, hotmail.com).
PERSONAL_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
# Errors after which only the user can help: sign in again.
_NEEDS_USER = frozenset({"invalid_grant", "interaction_required", "consent_required",
                         "login_required", "invalid_client", "unauthorized_client"})


def _write_private(path: Path, content: str | bytes) -> None:
    """Write a file only its owner can read, atomically (a crash leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content.encode("utf-8") if isinstance(content, str) else content)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


@dataclass(frozen=True)
class TokenFiles:
    cache: Path
    encrypted_cache: Path
    app: Path
    reconnect: Path
    http_cache: Path

    @classmethod
    def for_account(cls, cfg: MicrosoftAccount, config: Config) -> TokenFiles:
        return cls(
            cache=token_path(config, cfg.name, ".msal.json"),
            encrypted_cache=token_path(config, cfg.name, ".msal.bin"),
            app=token_path(config, cfg.name, ".msal-app.json"),
            reconnect=token_path(config, cfg.name, ".reconnect"),
            http_cache=token_path(config, cfg.name, ".msal-http.bin"),
        )


# What msal puts in its http cache, by (module, name): plain containers and its normalized
# responses. Anything else in the file is refused: unpickling may not run other code.
_HTTP_CACHE_CLASSES = frozenset({("msal.throttled_http_client", "NormalizedResponse")})


class _HttpCacheUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _HTTP_CACHE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the msal http cache")


class HttpCacheStore:
    """msal's http cache, kept across processes (msal's `http_cache`, docs/microsoft.md).

    msal fills a dict with the answers it may reuse: the authority's OpenID configuration
    (for a day) and throttling answers (for their Retry-After). In memory only, every new
    process (each timer-driven `run --once`) would fetch the configuration again. msal's
    documented way to persist it is pickle; its content holds no tokens nor personal data,
    but the file is 0600 like the token cache anyway. A file that cannot be read (corrupt,
    written by another msal version) is ignored and replaced: msal just fetches again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache: dict[str, Any] = self._load()
        self._saved = self._dump()

    def _load(self) -> dict[str, Any]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            log.warning("msal.http_cache_unreadable", reason=type(e).__name__)
            return {}
        try:
            loaded = _HttpCacheUnpickler(io.BytesIO(data)).load()
        except Exception as e:  # a broken pickle raises many types (EOFError, ValueError, ...)
            log.warning("msal.http_cache_unreadable", reason=type(e).__name__)
            return {}
        if not isinstance(loaded, dict):
            log.warning("msal.http_cache_unreadable", reason=type(loaded).__name__)
            return {}
        return loaded

    def _dump(self) -> bytes:
        return pickle.dumps(self.cache, protocol=pickle.HIGHEST_PROTOCOL)

    def save(self) -> None:
        """Write the cache if msal changed it (most calls: it did not)."""
        data = self._dump()
        if data != self._saved:
            _write_private(self.path, data)
            self._saved = data


class CacheStore:
    """Loads msal's token cache and saves it whenever msal changed it."""

    def __init__(self, cfg: MicrosoftAccount, files: TokenFiles) -> None:
        self._files = files
        self.cache: msal.SerializableTokenCache = self._open(cfg)

    def _open(self, cfg: MicrosoftAccount) -> msal.SerializableTokenCache:
        if cfg.encrypt_token_cache:
            encrypted = _encrypted_cache(self._files.encrypted_cache)
            if encrypted is not None:
                self.path = self._files.encrypted_cache
                return encrypted
        self.path = self._files.cache
        cache = msal.SerializableTokenCache()
        if self.path.exists():
            cache.deserialize(self.path.read_text(encoding="utf-8"))
        return cache

    def save(self) -> None:
        # PersistedTokenCache (msal-extensions) writes itself on every change.
        if self.path == self._files.cache and self.cache.has_state_changed:
            _write_private(self.path, self.cache.serialize())
            self.cache.has_state_changed = False


def _encrypted_cache(path: Path) -> msal.SerializableTokenCache | None:
    try:
        from msal_extensions import PersistedTokenCache, build_encrypted_persistence
    except ImportError:
        log.warning("msal.encryption_unavailable", reason="msal-extensions is not installed")
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        cache: msal.SerializableTokenCache = PersistedTokenCache(
            build_encrypted_persistence(str(path)))
    except Exception as e:  # libsecret/keychain missing: msal-extensions raises various types
        log.warning("msal.encryption_unavailable", reason=type(e).__name__)
        return None
    return cache


@dataclass(frozen=True)
class AppSettings:
    client_id: str
    tenant: str


def app_settings(cfg: MicrosoftAccount, files: TokenFiles, *, client_id: str | None = None,
                 tenant: str | None = None) -> AppSettings | None:
    saved: dict[str, Any] = {}
    if files.app.exists():
        try:
            saved = json.loads(files.app.read_text(encoding="utf-8"))
        except ValueError:
            saved = {}
    cid = client_id or cfg.client_id or saved.get("client_id")
    if not cid:
        return None
    return AppSettings(str(cid), tenant or saved.get("tenant") or cfg.tenant)


def build_app(cfg: MicrosoftAccount, settings: AppSettings, cache: msal.SerializableTokenCache,
              session: requests.Session, http_cache: HttpCacheStore
              ) -> msal.PublicClientApplication:
    try:
        return msal.PublicClientApplication(
            settings.client_id,
            authority=f"{cfg.authority_url.rstrip('/')}/{settings.tenant}",
            token_cache=cache,
            http_client=session,
            http_cache=http_cache.cache,
            # The authority is configured, not guessed, so msal need not ask Microsoft's
            # instance discovery whether it is genuine (msal's documented pattern for known
            # authorities). For login.microsoftonline.com and the national clouds msal skips
            # that check anyway; what False saves is the look-up of the host's aliases before
            # a silent token (other hosts whose cached tokens would also do). Our cache only
            # ever holds tokens from this one configured authority, so there are none to find.
            instance_discovery=False,
        )
    except ValueError as e:  # msal: the authority's OIDC metadata could not be read
        raise AuthError(f"cannot reach the Microsoft sign-in authority: {e}") from None
    except requests.RequestException as e:
        raise TransientError(f"cannot reach the Microsoft sign-in authority: {e}") from None


class MsalTokens:
    """Access tokens for one signed-in account, refreshed silently from the cache."""

    def __init__(self, cfg: MicrosoftAccount, config: Config, session: requests.Session) -> None:
        self._files = TokenFiles.for_account(cfg, config)
        self._cfg = cfg
        self._session = session
        self._lock = threading.Lock()
        self.store = CacheStore(cfg, self._files)
        self.http_cache = HttpCacheStore(self._files.http_cache)
        settings = app_settings(cfg, self._files)
        accounts = list(self.store.cache.search(msal.TokenCache.CredentialType.ACCOUNT))
        if settings is None or not accounts:
            raise AuthError(
                f"Microsoft account {cfg.name!r} is not connected: run "
                f"`followup connect microsoft --account {cfg.name}`"
            )
        self._settings = settings
        self._app: msal.PublicClientApplication | None = None
        first = accounts[0]
        self.username: str = str(first.get("username") or "")
        self.home_account_id: str = str(first.get("home_account_id") or "")

    @property
    def is_personal(self) -> bool:
        return self.home_account_id.endswith("." + PERSONAL_TENANT)

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:  # built lazily: msal may read the authority metadata over HTTP
            try:
                self._app = build_app(self._cfg, self._settings, self.store.cache,
                                      self._session, self.http_cache)
            finally:
                self.http_cache.save()
        return self._app

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            app = self._application()
            accounts = app.get_accounts()
            if not accounts:
                raise AuthError(f"Microsoft account {self._cfg.name!r} is not connected")
            try:
                result = app.acquire_token_silent_with_error(
                    list(SCOPES), accounts[0], force_refresh=force_refresh)
            except requests.RequestException as e:
                raise TransientError(
                    f"cannot reach the Microsoft sign-in authority ({type(e).__name__})"
                ) from None
            finally:
                self.store.save()
                self.http_cache.save()
            if result is None:
                self._needs_reconnect("no usable token in the cache")
            assert result is not None
            if "error" in result:
                error = str(result.get("error"))
                if error in _NEEDS_USER:
                    self._needs_reconnect(error)
                raise TransientError(f"Microsoft sign-in failed for now: {error}")
            token: str = result["access_token"]
            return token

    def _needs_reconnect(self, why: str) -> None:
        _write_private(self._files.reconnect, json.dumps({"reason": why}))
        log.warning("microsoft.needs_reconnect", account=self._cfg.name, reason=why)
        raise AuthError(
            f"Microsoft account {self._cfg.name!r} needs reconnect ({why}): run "
            f"`followup connect microsoft --account {self._cfg.name}`"
        )


def credential_info(cfg: MicrosoftAccount, config: Config) -> CredentialInfo:
    """What is stored for this account, read from disk only."""
    files = TokenFiles.for_account(cfg, config)
    connect = f"run `followup connect microsoft --account {cfg.name}`"
    encrypted = cfg.encrypt_token_cache and files.encrypted_cache.exists()
    path = files.encrypted_cache if encrypted else files.cache
    if not path.exists():
        return CredentialInfo(state="missing", message=f"not connected: {connect}",
                              path=str(path))
    if files.reconnect.exists():
        return CredentialInfo(state="needs_reconnect",
                              message=f"sign-in was revoked or expired: {connect}",
                              path=str(path))
    if encrypted:  # reading it would need the OS keyring: say only that it is there
        return CredentialInfo(state="ok", message="encrypted token cache", path=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CredentialInfo(state="needs_reconnect",
                              message=f"token cache unreadable: {connect}", path=str(path))
    if not data.get("RefreshToken") or not data.get("Account"):
        return CredentialInfo(state="missing", message=f"not connected: {connect}",
                              path=str(path))
    expires: datetime | None = None
    scopes: Sequence[str] = ()
    for at in (data.get("AccessToken") or {}).values():
        when = datetime.fromtimestamp(int(at.get("expires_on", 0)), UTC)
        if expires is None or when > expires:
            expires, scopes = when, str(at.get("target", "")).split()
    return CredentialInfo(state="ok", path=str(path), expires_at=expires,
                          scopes=tuple(scopes))


def connect(cfg: MicrosoftAccount, config: Config, *, tenant: str | None,
            client_id: str | None, browser: bool, out: TextIO) -> int:
    """Sign in once (device code, or the system browser with --browser); 0 on success."""
    files = TokenFiles.for_account(cfg, config)
    settings = app_settings(cfg, files, client_id=client_id, tenant=tenant)
    if settings is None:
        print("followup: no client id. Register an app (docs/microsoft.md) and pass "
              "--client-id ID or set client_id in the account's config.", file=out)
        return 2
    store = CacheStore(cfg, files)
    http_cache = HttpCacheStore(files.http_cache)
    session = PinnedSession(cfg.ca_bundle, cfg.request_timeout)
    try:
        app = build_app(cfg, settings, store.cache, session, http_cache)
        if browser:
            result = app.acquire_token_interactive(list(SCOPES), prompt="select_account")
        else:
            flow = app.initiate_device_flow(scopes=list(SCOPES))
            if "user_code" not in flow:
                print(f"followup: the authority refused a device code: "
                      f"{flow.get('error')}: {flow.get('error_description', '')}", file=out)
                return 1
            print(flow["message"], file=out, flush=True)
            result = app.acquire_token_by_device_flow(flow)  # blocks until done or expired
    except (AuthError, TransientError) as e:
        print(f"followup: {e}", file=out)
        return 1
    except requests.RequestException as e:
        print(f"followup: cannot reach the sign-in authority ({type(e).__name__})", file=out)
        return 1
    finally:
        store.save()
        http_cache.save()
    if "access_token" not in result:
        print(f"followup: sign-in failed: {result.get('error')}: "
              f"{result.get('error_description', '')}".rstrip(), file=out)
        return 1
    _write_private(files.app, json.dumps(
        {"client_id": settings.client_id, "tenant": settings.tenant}))
    files.reconnect.unlink(missing_ok=True)
    who = (result.get("id_token_claims") or {}).get("preferred_username") or "your account"
    print(f"Connected {who} as account {cfg.name!r}; token cache: {store.path}", file=out)
    return 0
