"""The weekly batch and its blocks, planned (core.planner, core.offdays, core.later): off
holidays and days away, sized to the batch, split when too big, a call instead of a draft,
and what a later draft gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup import keys
from followup.config import ScheduleConfig, UserConfig
from followup.core.compose import Composer
from followup.core.later import later_touch
from followup.core.offdays import OffDays, check_country
from followup.core.planner import PlanContext, nurture_due, plan_nurture, weekly_slot
from followup.core.resources import load_resources
from followup.core.state import PersonState
from followup.model import BlockPayload, DraftPayload, Interaction, Interval, WriteKind

BERLIN = ZoneInfo("Europe/Berlin")
USER = UserConfig(name="Ada Lovelace", addresses=["ada@lovelace.dev"], timezone="Europe/Berlin",
                  country="DE")
SCHEDULE = ScheduleConfig()


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def ctx(now: datetime, schedule: ScheduleConfig = SCHEDULE) -> PlanContext:
    return PlanContext(account="work", now=now, user=USER, schedule=schedule,
                       composer=Composer(USER), where_drafts_are="your Drafts folder")


def state(email: str = "jane@acme.example", **kw: object) -> PersonState:
    base = PersonState(email=email, name="Jane Doe", first_met=local(2026, 11, 2, 10),
                       last_meeting_title="Benchmark chat", anchor=local(2026, 11, 2, 11),
                       touches=1, open_touch=False, notes="Interested in database benchmarks.")
    return dataclasses.replace(base, **kw)


def blocks(intents: list) -> list[BlockPayload]:  # type: ignore[type-arg]
    out = [i.payload for i in intents if i.kind is WriteKind.BLOCK]
    assert all(isinstance(b, BlockPayload) for b in out)
    return out


def test_a_batch_on_christmas_day_moves_to_the_working_day_before() -> None:
    now = local(2026, 12, 23, 9)  # Wednesday; Friday 25 December is Christmas Day
    days = OffDays("DE", BERLIN, SCHEDULE)
    slot = weekly_slot(ctx(now), now, days)
    assert slot.at == local(2026, 12, 24, 15) and "Christmas" in slot.moved
    (block,) = blocks(plan_nurture(ctx(now), [state(anchor=local(2026, 11, 24, 11))],
                                   busy=[], taken=[], offdays=days))
    assert block.start.astimezone(BERLIN).date() == local(2026, 12, 24).date()
    assert "Christmas" in block.description


def test_a_day_away_moves_the_batch_too() -> None:
    friday = local(2026, 11, 20)
    away = [Interval(friday.astimezone(UTC), (friday + timedelta(days=1)).astimezone(UTC))]
    days = OffDays("", BERLIN, SCHEDULE, away)
    now = local(2026, 11, 18, 9)
    assert weekly_slot(ctx(now), now, days).at == local(2026, 11, 19, 15)
    # Half a day of meetings is not a day away.
    busy = [Interval(local(2026, 11, 20, 9), local(2026, 11, 20, 12))]
    assert weekly_slot(ctx(now), now, OffDays("", BERLIN, SCHEDULE, busy)).moved == ""


def test_an_unknown_country_is_a_config_error() -> None:
    assert check_country(" de-by ") == "DE-BY"
    with pytest.raises(ValueError, match="unknown country"):
        check_country("XX")


def test_the_weekly_block_grows_with_its_batch_and_splits_when_it_does_not_fit() -> None:
    now = local(2026, 12, 2, 9)  # Wednesday; the batch is on Friday 4 December
    people = [state(f"p{i}@example{i}.org", name=f"Person {i}") for i in range(12)]
    intents = plan_nurture(ctx(now), people, busy=[], taken=[])
    spans = [(b.end - b.start) // timedelta(minutes=1) for b in blocks(intents)]
    # 5 minutes a draft, at most 45 a block: 9 in the first, 3 (15 minutes) in the second.
    assert spans == [45, 15]
    found = blocks(intents)
    assert found[0].end <= found[1].start  # one after the other, never overlapping
    assert sum(len(b.draft_keys) for b in found) == 12
    assert len({i.key for i in intents}) == len(intents)
    assert intents[-2].key == keys.weekly_key("work", local(2026, 12, 4).astimezone(UTC))


def test_a_touch_is_never_written_before_it_is_due() -> None:
    now = local(2026, 11, 26, 15)  # Thursday, the day before the batch
    due_friday = state(anchor=local(2026, 10, 30, 11) - timedelta(days=0))
    due = nurture_due(due_friday, SCHEDULE)
    assert due is not None
    draft, _ = plan_nurture(ctx(now), [due_friday], busy=[], taken=[])
    assert draft.due >= due


def test_someone_who_asked_for_a_call_gets_a_call_block_and_no_draft() -> None:
    now = local(2027, 2, 8, 9)
    caller = state(channel="call", asked_at=local(2027, 2, 10).astimezone(UTC))
    intents = plan_nurture(ctx(now), [caller], busy=[], taken=[])
    assert [i.kind for i in intents] == [WriteKind.BLOCK]
    (block,) = blocks(intents)
    assert block.summary.startswith("Call Jane Doe") and block.draft_keys == ()
    assert "Call them" in block.description


def test_a_later_draft_replies_in_the_thread_and_gives_a_resource(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(
        '[[resource]]\ntitle = "Our vector database benchmark"\n'
        'url = "https://lovelace.dev/bench"\ntags = ["benchmarks", "database"]\n'
        '[[resource]]\ntitle = "Knitting patterns"\nurl = "https://lovelace.dev/knit"\n',
        encoding="utf-8")
    last = Interaction("jane@acme.example", local(2026, 11, 20), "received",
                       message_id="<abc@acme.example>", thread_id="t1",
                       subject="AW: Re: Benchmark numbers", remote_id="m1")
    touch = later_touch(state(), local(2026, 11, 27), last,
                        load_resources(tmp_path / "r.toml"), "en")
    draft = Composer(USER).nurture(touch, key="k" * 32, tz=BERLIN)
    assert isinstance(draft, DraftPayload)
    assert draft.subject == "Re: Benchmark numbers"
    assert (draft.in_reply_to, draft.references) == ("<abc@acme.example>",
                                                     ("<abc@acme.example>",))
    assert (draft.thread_id, draft.reply_to_remote) == ("t1", "m1")
    assert "https://lovelace.dev/bench" in draft.body and "[[" not in draft.body
    assert "Interested in" not in draft.body  # the notes stay private
    # Given once: the next touch does not give it again.
    again = later_touch(state(given=(touch.gift.ident,)), local(2026, 12, 27), last,
                        load_resources(tmp_path / "r.toml"), "en")
    assert again.gift.kind == "none"


def test_an_open_promise_comes_before_a_resource_and_german_notes_give_german() -> None:
    touch = later_touch(state(notes="Ich schicke ihr den Artikel über Kalman-Filter.",
                              last_meeting_title="Kaffee mit Jana"),
                        local(2026, 11, 27), None, [], "en")
    assert touch.language == "de"
    draft = Composer(USER).nurture(touch, key="k" * 32, tz=BERLIN)
    assert draft.body.startswith("Hallo Jane,")
    # Backfilled or already in touch: the first note never carried it, so it is still owed.
    assert touch.gift.kind == "promise"
    assert "Ich schulde Ihnen noch den Artikel über Kalman-Filter" in draft.body
    assert draft.subject == "Den Artikel über Kalman-Filter"


def test_a_broken_resources_file_gives_none_and_does_not_crash(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[[resource]\ntitle = ", encoding="utf-8")
    assert load_resources(tmp_path / "bad.toml") == []
    assert load_resources(tmp_path / "missing.toml") == []
    (tmp_path / "odd.toml").write_text(
        '[[resource]]\ntitle = "x"\nurl = "javascript:alert(1)"\n', encoding="utf-8")
    assert load_resources(tmp_path / "odd.toml") == []
