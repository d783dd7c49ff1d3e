"""Contacts: the search cache needs a warm-up, etags guard updates, groups are made once."""

from __future__ import annotations

from fake_google import FakeGoogle
from google_env import T0

from followup import keys
from followup.model import ContactPayload, WriteOutcome
from followup.protocols import Account


def payload(email: str = "jane@acme.com", note: str = "Met at Roadmap, 10 Mar 2025",
            **kw: str | None) -> ContactPayload:
    fields: dict[str, str | None] = {"display_name": "Jane Doe", "given_name": "Jane",
                                     "family_name": "Doe", "organization": "Acme"}
    fields.update(kw)
    return ContactPayload(email=email, note=note, **fields)  # type: ignore[arg-type]


def key(person: str = "jane@acme.com", touch: int = 0) -> str:
    return keys.touch_key("work", "m@x", T0, person, touch, "contact")


def test_a_new_card_has_names_org_note_group_and_key(fake: FakeGoogle,
                                                      account: Account) -> None:
    result = account.contacts.ensure(key(), payload(), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    card = fake.people[str(result.remote_id)]
    assert card["names"] == [{"givenName": "Jane", "familyName": "Doe",
                              "unstructuredName": "Jane Doe"}]
    assert card["organizations"] == [{"name": "Acme"}]
    assert card["biographies"][0]["value"] == "Met at Roadmap, 10 Mar 2025"
    assert {"key": "followupKey", "value": key()} in card["clientData"]
    [group] = [g for g in fake.groups.values() if g["name"] == "followup"]
    assert {"contactGroupMembership": {"contactGroupResourceName": group["resourceName"]}} in (
        card["memberships"])


def test_a_card_the_user_just_made_is_found_thanks_to_the_warm_up(
        fake: FakeGoogle, account: Account) -> None:
    account.contacts.ensure(key("bob@x.org"), payload("bob@x.org"), recovering=False)
    # The user adds Jane by hand; Google's search cache does not know her until a warm-up.
    fake.add_contact("jane@acme.com", "Jane D.", "Knows Bob")
    result = account.contacts.ensure(key(), payload(), recovering=False)
    assert result.outcome is WriteOutcome.ANNOTATED
    assert len(fake.people) == 2


def test_the_note_goes_on_without_clobbering_other_fields(fake: FakeGoogle,
                                                          account: Account) -> None:
    card = fake.add_contact("jane@acme.com", "Jane D.", "Old friend",
                            phoneNumbers=[{"value": "+1 555 0100"}])
    account.contacts.ensure(key(), payload(), recovering=False)
    after = fake.people[card["resourceName"]]
    assert after["phoneNumbers"] == [{"value": "+1 555 0100"}]
    assert after["names"] == [{"displayName": "Jane D.", "unstructuredName": "Jane D."}]
    assert after["biographies"][0]["value"] == "Old friend\nMet at Roadmap, 10 Mar 2025"


def test_an_etag_conflict_rereads_the_card_and_keeps_the_users_change(
        fake: FakeGoogle, account: Account) -> None:
    card = fake.add_contact("jane@acme.com", "Jane D.", "Old friend")
    rn = card["resourceName"]
    # Between our read and our update the user edits the card (its etag changes).
    original = fake.update_contact

    def user_edits_first(rn_: str, fields: str | None, body: dict) -> dict:  # type: ignore[type-arg]
        fake.update_contact = original  # type: ignore[method-assign]
        person = fake.people[rn]
        person["biographies"] = [{"value": "Old friend, ski trip"}]
        fake._bump(person)
        return original(rn_, fields, body)

    fake.update_contact = user_edits_first  # type: ignore[method-assign]
    result = account.contacts.ensure(key(), payload(), recovering=False)
    assert result.outcome is WriteOutcome.ANNOTATED
    assert fake.people[rn]["biographies"][0]["value"] == (
        "Old friend, ski trip\nMet at Roadmap, 10 Mar 2025")


def test_the_contact_group_is_made_once_even_across_restarts(
        fake: FakeGoogle, account: Account, cfg, config) -> None:  # type: ignore[no-untyped-def]
    from followup.providers.google import open_google_account

    account.contacts.ensure(key("a@x.org"), payload("a@x.org"), recovering=False)
    restarted = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    restarted.contacts.ensure(key("b@x.org"), payload("b@x.org"), recovering=False)
    assert [g["name"] for g in fake.groups.values()].count("followup") == 1


def test_a_create_whose_answer_was_lost_is_found_by_key(fake: FakeGoogle,
                                                         account: Account) -> None:
    fake.drop_next("people.people.createContact", after_apply=True)
    result = account.contacts.ensure(key(), payload(), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    assert len(fake.people) == 1
    assert fake.applied_then_dropped == ["people.people.createContact"]


def test_a_name_from_other_contacts_when_the_meeting_gave_none(fake: FakeGoogle,
                                                                account: Account) -> None:
    fake.other_contacts.append({"resourceName": "otherContacts/1", "names": [
        {"displayName": "Pat Example"}], "emailAddresses": [{"value": "pat@x.org"}]})
    result = account.contacts.ensure(
        key("pat@x.org"), payload("pat@x.org", display_name=None, given_name=None,
                                  family_name=None), recovering=False)
    assert fake.people[str(result.remote_id)]["names"] == [{"unstructuredName": "Pat Example"}]
