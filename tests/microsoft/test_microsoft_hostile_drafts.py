"""Graph drafts are JSON, so a hostile attendee name cannot become a header; it must not add
a recipient or change the address in toRecipients either (issue 9)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from followup.errors import InputError
from followup.ledger import Ledger, WriteState
from followup.model import DraftPayload

from .conftest import MsWorld
from .test_microsoft_cycle import T0, Cycles

EVIL = "attacker@evil.example"
JANE = "jane@acme.example"
BOB = "bob@globex.example"
ENCODED = "=?utf-8?b?" + base64.b64encode(f"Accounts <{EVIL}>, Bob".encode()).decode() + "?="


@pytest.fixture
def hostile_cycles(ms: MsWorld, tmp_path: Path) -> Iterator[Cycles]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield Cycles(ms, ledger)


def test_hostile_names_leave_graph_draft_recipients_alone(hostile_cycles: Cycles) -> None:
    people = [(JANE, f"Accounts <{EVIL}>, Bob"), (BOB, ENCODED)]
    hostile_cycles.meeting("hostile@x", T0, people)
    hostile_cycles.until_settled(T0 + timedelta(hours=2))
    assert not hostile_cycles.ledger.writes("work", states=[WriteState.FAILED])
    drafts = hostile_cycles.ms.graph.drafts()
    recipients = sorted(
        [r["emailAddress"]["address"] for r in d["toRecipients"]] for d in drafts
    )
    assert recipients == [[BOB], [JANE]]
    names = {r["emailAddress"]["address"]: r["emailAddress"].get("name")
             for d in drafts for r in d["toRecipients"]}
    assert names[JANE] is None  # a name holding an address is dropped, as in MIME drafts
    # No name a person has: the bare mailbox (literal at most: Graph does not decode it).
    assert names[BOB] in (None, ENCODED)


@pytest.mark.parametrize("address", [f"{JANE}, {EVIL}", f"Jane <{JANE}>", f"{JANE}\r\nBcc: {EVIL}"])
def test_a_graph_draft_to_anything_but_one_plain_address_is_refused(
    ms: MsWorld, address: str
) -> None:
    ms.connect()
    draft = DraftPayload(to=((None, address),), subject="s", body="b\n",
                         message_id="<k@followup.invalid>")
    with pytest.raises(InputError, match="address"):
        ms.open().drafts.ensure("k" * 32, draft, recovering=False)
    assert ms.graph.drafts() == []
