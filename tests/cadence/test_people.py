"""The cadence state in the ledger, `followup people`, and forgetting someone."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from followup import keys
from followup.config import Config, LedgerConfig, UserConfig
from followup.core.state import PersonState
from followup.ledger import Ledger
from followup.model import (
    DraftPayload,
    Interval,
    Meeting,
    Skip,
    WriteIntent,
    WriteKind,
)
from followup.people import people_command

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
JANE = "jane@acme.example"
BOB = "bob@globex.example"


def person(email: str, **kw: object) -> PersonState:
    base = PersonState(email=email, name="Jane Doe", first_met=T0, last_meeting_title="Chat",
                       anchor=T0 + timedelta(hours=1), touches=1, open_touch=True)
    from dataclasses import replace

    return replace(base, **kw)


def draft(email: str, touch: int) -> WriteIntent:
    key = keys.touch_key("work", "", None, email, touch, "draft")
    return WriteIntent(key=key, kind=WriteKind.DRAFT, due=T0, person=email, touch=touch,
                       payload=DraftPayload(to=((None, email),), subject="Hi", body="x\n",
                                            message_id=keys.message_id(key),
                                            in_reply_to="<a@b.example>",
                                            references=("<a@b.example>",), thread_id="t",
                                            reply_to_remote="m"))


def test_the_whole_cadence_state_survives_the_ledger(ledger_url: str) -> None:
    full = person(JANE, status="talking", reason="They replied.", unanswered=2,
                  asked_at=T0 + timedelta(days=21), channel="call", notes="Private.",
                  last_met=T0, given=("resource:https://x.example", "promise:send:deck"))
    with Ledger.open(ledger_url) as ledger:
        ledger.save_person("work", full)
        assert ledger.person("work", JANE) == full
        intent = draft(JANE, 2)
        ledger.record_intents("work", [intent])
        row = ledger.write(intent.key)
        assert row is not None and row.payload == intent.payload  # threading kept


def test_forget_removes_what_followup_stored_about_one_person_only(ledger_url: str) -> None:
    meeting = Meeting(uid="m1", start=T0, end=T0 + timedelta(hours=1), title="Chat")
    with Ledger.open(ledger_url) as ledger:
        for email in (JANE, BOB):
            ledger.save_person("work", person(email))
            ledger.record_intents("work", [draft(email, 1)])
            ledger.record_offers("work", draft(email, 1).key,
                                 [Interval(T0 + timedelta(days=1),
                                           T0 + timedelta(days=1, minutes=30))],
                                 T0 + timedelta(days=3))
        ledger.record_skips("work", meeting, [Skip(JANE, "declined", "No."),
                                              Skip(BOB, "declined", "No.")])
        gone = ledger.forget_person("work", JANE.upper())
        assert (gone.people, gone.writes, gone.skips, gone.offers) == (1, 1, 1, 1)
        assert ledger.person("work", JANE) is None
        assert [r.person for r in ledger.writes("work")] == [BOB]
        assert [s.person for s in ledger.skips("work")] == [BOB]
        assert [o.draft_key for o in ledger.live_offers("work", T0)] == [draft(BOB, 1).key]
        assert ledger.person("work", BOB) is not None


def config(ledger_url: str) -> Config:
    from followup.config import LocalAccount

    return Config(user=UserConfig(timezone="UTC"), ledger=LedgerConfig(url=ledger_url),
                  accounts=[LocalAccount(name="work")])


def run(cfg: Config, action: str, email: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = people_command(cfg, action=action, email=email, account=None, out=out,
                          now=T0 + timedelta(days=40))
    return code, out.getvalue()


def test_people_list_show_pause_resume_and_forget(ledger_url: str) -> None:
    cfg = config(ledger_url)
    with Ledger.open(ledger_url) as ledger:
        ledger.save_person("work", person(JANE, open_touch=False, status="ended",
                                          reason="You deleted the first draft: not this "
                                                 "person.", notes="Seemed bored."))
        ledger.save_person("work", person(BOB, open_touch=False))
    code, text = run(cfg, "list")
    assert code == 0 and JANE in text and "ended" in text and "You deleted" in text
    code, text = run(cfg, "show", JANE)
    assert code == 0 and "Seemed bored." in text and "ended" in text
    code, text = run(cfg, "pause", BOB)
    assert code == 0 and "paused" in text
    with Ledger.open(ledger_url) as ledger:
        paused = ledger.person("work", BOB)
        assert paused is not None and paused.status == "paused"
    code, text = run(cfg, "resume", JANE)
    assert code == 0 and "resumed" in text
    with Ledger.open(ledger_url) as ledger:
        resumed = ledger.person("work", JANE)
        assert resumed is not None and resumed.status == "active"
        assert resumed.anchor == T0 + timedelta(days=40)  # a cadence from now
    code, text = run(cfg, "forget", JANE)
    assert code == 0 and "forgot" in text
    with Ledger.open(ledger_url) as ledger:
        assert ledger.person("work", JANE) is None
    assert run(cfg, "show", "nobody@x.example")[0] == 1
    assert run(cfg, "pause")[0] == 2  # an address is needed


def test_a_ledger_from_before_the_cadence_keeps_its_people(tmp_path: object) -> None:
    """Revision 0004 on a 0003 ledger: people stay, with the defaults (active, nothing
    asked, nothing given), and the writes' old payloads read back without threading."""
    from pathlib import Path

    from alembic import command
    from sqlalchemy import create_engine, text

    from followup.ledger.migrate import alembic_config

    assert isinstance(tmp_path, Path)
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(text(
            "INSERT INTO people (account, email, name, first_met, last_meeting_title, anchor,"
            " touches, open_touch, updated_at) VALUES ('work', :e, 'Jane', :t, 'Chat', :t,"
            " 1, 1, :t)"), {"e": JANE, "t": T0.replace(tzinfo=None)})
    engine.dispose()
    with Ledger.open(url) as ledger:
        state = ledger.person("work", JANE)
    assert state is not None
    assert (state.status, state.unanswered, state.asked_at, state.given, state.notes) == (
        "active", 0, None, (), "")
    assert state.touches == 1 and state.open_touch
