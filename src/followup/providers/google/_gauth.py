"""google-auth's classes, typed as Any at this one place: the library's functions carry no
annotations, so mypy --strict would reject every call to them."""

from typing import Any

from google.auth.transport import requests as _transport
from google.oauth2 import credentials as _credentials

AuthorizedSession: Any = _transport.AuthorizedSession
Request: Any = _transport.Request
Credentials: Any = _credentials.Credentials
