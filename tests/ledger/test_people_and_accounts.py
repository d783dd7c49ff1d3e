"""People the planner tracks, and the per-account status `followup status` shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from followup.core.planner import PersonState
from followup.ledger import Ledger

from .conftest import T0, Clock


def jane() -> PersonState:
    return PersonState(
        email="jane@acme.test",
        name="Jane Doe",
        first_met=T0.astimezone(ZoneInfo("Europe/Paris")),
        last_meeting_title="Coffee",
        anchor=T0 + timedelta(hours=1),
        touches=1,
        open_touch=True,
    )


def test_a_saved_person_comes_back_equal(ledger: Ledger) -> None:
    assert ledger.person("a", "jane@acme.test") is None
    ledger.save_person("a", jane())
    assert ledger.person("a", "jane@acme.test") == jane()
    assert ledger.person("b", "jane@acme.test") is None


def test_saving_again_replaces_the_state(ledger: Ledger) -> None:
    ledger.save_person("a", jane())
    later = replace(jane(), name=None, anchor=T0 + timedelta(days=30), touches=2, open_touch=False)
    ledger.save_person("a", later)
    assert ledger.person("a", "jane@acme.test") == later
    assert ledger.people("a") == [later]


def test_people_lists_an_accounts_people_by_email(ledger: Ledger) -> None:
    bob = replace(jane(), email="bob@beta.test", name="Bob")
    ledger.save_person("a", jane())
    ledger.save_person("a", bob)
    ledger.save_person("b", replace(jane(), email="eve@gamma.test"))
    assert ledger.people("a") == [bob, jane()]
    assert ledger.people("nobody") == []


def test_account_status_updates_only_the_fields_given(ledger: Ledger, clock: Clock) -> None:
    assert ledger.account_status("a") is None
    ledger.set_account_status("a", last_sync=T0)
    clock.advance(minutes=5)
    ledger.set_account_status("a", needs_reconnect=True, last_error="invalid_grant")
    status = ledger.account_status("a")
    assert status is not None
    assert (status.needs_reconnect, status.last_sync, status.last_error, status.updated_at) == (
        True,
        T0,
        "invalid_grant",
        clock.now,
    )
    ledger.set_account_status("a", needs_reconnect=False, last_error=None, last_sync=clock.now)
    status = ledger.account_status("a")
    assert status is not None
    assert (status.needs_reconnect, status.last_sync, status.last_error) == (False, clock.now, None)


def test_account_statuses_lists_every_account(ledger: Ledger) -> None:
    ledger.set_account_status("work", needs_reconnect=True)
    ledger.set_account_status("home", last_sync=T0)
    assert [(s.account, s.needs_reconnect) for s in ledger.account_statuses()] == [
        ("home", False),
        ("work", True),
    ]
