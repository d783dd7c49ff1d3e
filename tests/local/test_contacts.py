"""Contacts: annotate real cards from every client without clobbering; create clean cards."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import pytest
import vobject

from followup import keys
from followup.model import ContactPayload, RemoteState, RemoveOutcome, WriteOutcome

from .conftest import VCARDS, Home

KEY = keys.touch_key("local", "uid@x", None, "p@x", 0, "contact")


def payload(email: str, **kw: object) -> ContactPayload:
    fields: dict[str, object] = {
        "email": email, "display_name": "Jane Doe", "given_name": "Jane",
        "family_name": "Doe", "organization": "Acme",
        "note": "Met at Roadmap review, 10 Mar 2025", "group": "followup",
    }
    fields.update(kw)
    return ContactPayload(**fields)  # type: ignore[arg-type]


def first_email(text: str) -> str | None:
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    m = re.search(r"^(?:[\w-]+\.)?EMAIL[^:\n]*:[ \t]*([^\s;]+@[^\s;]+)", unfolded, re.I | re.M)
    return m.group(1).lower() if m else None


def _vobject_reads(data: bytes) -> bool:
    try:
        list(vobject.readComponents(data.decode("utf-8", "replace")))
    except Exception:  # vobject cannot read several real exports: why we edit text, not objects
        return False
    return True


CARDS = [p for p in sorted(VCARDS.glob("*.vcf"))
         if first_email(p.read_text(encoding="utf-8", errors="replace"))]


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.stem)
def test_annotate_real_card_keeps_every_byte_and_undo_restores_it(
    home: Home, card: Path
) -> None:
    home.contacts.mkdir(exist_ok=True)
    target = home.contacts / card.name
    shutil.copy(card, target)
    original = target.read_bytes()
    email = first_email(original.decode("utf-8", errors="replace"))
    assert email
    contacts = home.account().contacts

    result = contacts.ensure(KEY, payload(email.upper()), recovering=False)
    assert result.outcome is WriteOutcome.ANNOTATED and result.remote_id == card.name
    annotated = target.read_bytes()
    assert len(list(home.contacts.iterdir())) == 1  # no second card
    # Every original line is still there, in order; the only change is our NOTE line(s).
    before = original.splitlines(keepends=True)
    after = annotated.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    assert [op for op, *_ in ops if op != "equal"] == ["insert"]
    [(_, _, _, j1, j2)] = [op for op in ops if op[0] == "insert"]
    inserted = b"".join(after[j1:j2]).decode()
    unfolded = re.sub(r"\r?\n[ \t]", "", inserted)
    assert unfolded.startswith("NOTE") and f"[followup:{KEY}]" in unfolded
    assert "Met at Roadmap review" in unfolded
    if _vobject_reads(original):
        notes = [n.value for c in vobject.readComponents(annotated.decode("utf-8", "replace"))
                 for n in c.contents.get("note", [])]
        assert any(n.endswith(f"[followup:{KEY}]") for n in notes)

    again = contacts.ensure(KEY, payload(email), recovering=True)
    assert again.outcome is WriteOutcome.EXISTED and target.read_bytes() == annotated
    assert contacts.state(KEY, result.remote_id, result.fingerprint) is RemoteState.PRESENT

    assert contacts.remove(KEY, result.remote_id, result.fingerprint) is RemoveOutcome.REMOVED
    assert target.read_bytes() == original


def test_annotated_vcard_still_parses_with_its_note(home: Home) -> None:
    home.contacts.mkdir(exist_ok=True)
    shutil.copy(VCARDS / "John_Doe_EVOLUTION.vcf", home.contacts)
    email = first_email((VCARDS / "John_Doe_EVOLUTION.vcf").read_text())
    assert email
    home.account().contacts.ensure(KEY, payload(email, note="Met at Café Zoë, 東京; RTL: שלום"),
                                   recovering=False)
    [card] = vobject.readComponents((home.contacts / "John_Doe_EVOLUTION.vcf").read_text())
    notes = [n.value for n in card.contents["note"]]
    assert any(n.startswith("Met at Café Zoë, 東京; RTL: שלום [followup:") for n in notes)


def test_created_card_is_clean_and_readable(home: Home) -> None:
    contacts = home.account().contacts
    result = contacts.ensure(KEY, payload(
        "Ivan@Example.RU", display_name="Иван\r\nПетров", given_name="Иван",
        family_name="Петров", organization="ООО «Ромашка»", group="conference-2025"),
        recovering=True)
    assert result.outcome is WriteOutcome.CREATED and result.remote_id == f"{KEY}.vcf"
    path = home.contacts / f"{KEY}.vcf"
    assert path.stat().st_mode & 0o777 == 0o600
    [card] = vobject.readComponents(path.read_text())
    assert card.fn.value == "Иван Петров"
    assert card.email.value == "ivan@example.ru"
    assert card.n.value.family == "Петров" and card.org.value == ["ООО «Ромашка»"]
    assert card.categories.value == ["conference-2025"]
    assert card.contents["x-followup-key"][0].value == KEY
    assert card.note.value.startswith("Met at Roadmap review")
    assert contacts.ensure(KEY, payload("ivan@example.ru"), recovering=False).outcome is (
        WriteOutcome.EXISTED)
    assert len(list(home.contacts.iterdir())) == 1


def test_user_edit_of_our_note_is_kept_on_undo(home: Home) -> None:
    home.contacts.mkdir(exist_ok=True)
    (home.contacts / "jane.vcf").write_text(
        "BEGIN:VCARD\nVERSION:4.0\nFN:Jane\nEMAIL:jane@example.org\nEND:VCARD\n")
    contacts = home.account().contacts
    result = contacts.ensure(KEY, payload("jane@example.org"), recovering=False)
    path = home.contacts / "jane.vcf"
    path.write_text(path.read_text().replace("Roadmap review", "Roadmap review (great chat)"))
    assert contacts.state(KEY, result.remote_id, result.fingerprint) is RemoteState.EDITED
    assert contacts.remove(KEY, result.remote_id, result.fingerprint) is RemoveOutcome.KEPT
    assert "great chat" in path.read_text()
