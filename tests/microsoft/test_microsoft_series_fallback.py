"""An occurrence whose series master Graph did not give us is still a later occurrence of a
series: nobody on it counts as newly met (PLAYBOOK §5)."""

from __future__ import annotations

from followup.config import TriageConfig, UserConfig
from followup.core.triage import triage
from followup.model import SERIES_START_UNKNOWN
from followup.providers.microsoft.events import to_meeting

OCCURRENCE = {
    "id": "AAMkAGocc1",
    "type": "occurrence",
    "seriesMasterId": "AAMkAGmaster",
    "iCalUId": "040000008200E00074C5B7101A82E0080000000011",
    "subject": "Weekly sync",
    "start": {"dateTime": "2026-11-23T10:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2026-11-23T10:30:00.0000000", "timeZone": "UTC"},
    "originalStart": "2026-11-23T10:00:00Z",
    "isCancelled": False,
    "isAllDay": False,
    "showAs": "busy",
    "organizer": {"emailAddress": {"name": "Ada", "address": "ada@example.com"}},
    "attendees": [
        {
            "type": "required",
            "status": {"response": "accepted"},
            "emailAddress": {"name": "Jane Doe", "address": "jane@acme.example"},
        }
    ],
}


def test_an_occurrence_without_its_master_is_recurring_and_brings_nobody_new() -> None:
    meeting = to_meeting(
        OCCURRENCE, uid="uid-1", series_start=None, self_addresses={"ada@example.com"},
        source="microsoft:calendar",
    )
    assert meeting.is_recurring
    assert meeting.series_start == SERIES_START_UNKNOWN
    verdict = triage(
        meeting, UserConfig(addresses=["ada@example.com"]), TriageConfig(),
        self_addresses=["ada@example.com"], known_series_members=None,
    )
    assert verdict.new_people == []
    assert ("jane@acme.example", "recurring_seen") in {(s.email, s.code) for s in verdict.skips}
