"""What every part of the Google provider shares: config, the retrying caller, the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from followup.config import Config, GoogleAccount
from followup.providers.google.calls import Caller
from followup.providers.google.services import Services


@dataclass
class GoogleClient:
    cfg: GoogleAccount
    config: Config
    caller: Caller
    api: Services

    @property
    def default_tz(self) -> tzinfo:
        return self.config.user.tz
