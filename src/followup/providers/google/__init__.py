"""Google: Calendar, Gmail and Contacts through google-api-python-client and google-auth.

See docs/google.md for setting up the OAuth client, the scopes and their reasons.
"""

from followup.providers.google.account import google_credential_info, open_google_account
from followup.providers.google.connect import connect_google

__all__ = ["connect_google", "google_credential_info", "open_google_account"]
