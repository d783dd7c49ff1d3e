"""The user's vdir address book, read before a first note: who is known already, and by
what name (a card's "Klaus" beats an invite's "WEBER, KLAUS")."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
import vobject

from followup.errors import InputError
from followup.model import Card
from followup.providers.local.contacts import VdirContacts, _decode
from followup.providers.local.files import MAX_VCF_BYTES, read_limited

log = structlog.get_logger(__name__)


class VdirAddressBook:
    """Read-only lookups in the same folder VdirContacts writes to."""

    def __init__(self, contacts: VdirContacts) -> None:
        self.contacts = contacts

    def lookup(self, emails: Sequence[str]) -> dict[str, Card]:
        wanted = {e.lower() for e in emails}
        found: dict[str, Card] = {}
        for card in self.contacts._cards():
            hits = wanted & card.emails
            # A card followup created itself is not the user's knowledge of the person.
            if not hits or any(card.name == f"{k}.vcf" for k in card.keys):
                continue
            names = self._names(card.name)
            for email in hits:
                found.setdefault(email, Card(email, *names))
        return found

    def _names(self, file_name: str) -> tuple[str | None, str | None]:
        """The card's formatted name and given name; (None, None) when unreadable."""
        try:
            data = read_limited(self.contacts.folder / file_name, MAX_VCF_BYTES)
            if data is None:
                return None, None
            card = vobject.readOne(_decode(data))
        except (OSError, InputError, vobject.base.ParseError, ValueError) as e:
            log.info("address_book.card_unreadable", file=file_name, error=type(e).__name__)
            return None, None
        full = str(card.fn.value).strip() if hasattr(card, "fn") else ""
        given = ""
        if hasattr(card, "n"):
            given = str(getattr(card.n.value, "given", "") or "").strip()
        return (full or None), (given or None)
