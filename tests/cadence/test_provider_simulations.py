"""The scripted user of the local simulation on the Google and Microsoft fakes (issue 10):
later drafts continue the thread of the last mail (the Gmail thread; a Graph reply draft made
by createReply), and a reply pauses the cadence until the conversation has been quiet.

Two contacts over eight weeks (the fakes answer over HTTP: kept short): the investor who asked
to hear back in three weeks and answers the second touch, and one who never answers.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from followup.ledger import Ledger
from followup.providers.google import open_google_account

from .providers import GoogleMailbox, GraphMailbox
from .sim import ME, START, Run, config, contacts, simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "google"))
from fake_google import FakeGoogle
from google_env import account_config, connect

DAYS = 56
MIN = timedelta(days=21)
PEOPLE = [c for c in contacts() if c.key in ("investor", "silent")]


def check_threading_and_reply(run: Run) -> None:
    drafts = run.drafts["investor"]
    assert len(drafts) >= 3
    (_, first), (_, second), (third_at, third) = drafts[:3]
    # The second touch continues the thread of the first (the mail the user sent).
    assert second.thread is not None and second.thread == first.thread
    assert second.subject == f"Re: {first.subject}"
    # Her reply paused the cadence: the third touch only after three quiet weeks, in the
    # thread of her reply.
    (reply,) = run.of("investor", "replied")
    assert third_at >= reply.at + MIN - timedelta(days=1)
    assert third.thread == first.thread
    assert third.subject == f"Re: {first.subject}"
    silent = [at for at, _ in run.drafts["silent"]]
    assert len(silent) == 3  # no answer, no pause: the cadence, never closer than its minimum
    assert all(b - a >= MIN - timedelta(days=1) for a, b in itertools.pairwise(silent))


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[FakeGoogle, GoogleMailbox, Ledger]]:
    fake = FakeGoogle(user=ME).start()
    fake.clock = START
    cfg = account_config(fake)
    conf = config(tmp_path / "state", None, [])
    conf = conf.model_copy(update={"accounts": [cfg]})
    connect(fake, cfg, conf)
    box: GoogleMailbox
    account = open_google_account(cfg, conf, clock=lambda: fake.clock, sleep=lambda s: None)
    box = GoogleMailbox(fake, account)
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield fake, box, ledger
    fake.stop()


def test_google_later_drafts_continue_the_gmail_thread_and_a_reply_pauses(
    google: tuple[FakeGoogle, GoogleMailbox, Ledger], tmp_path: Path,
) -> None:
    _, box, ledger = google
    conf = config(tmp_path / "state", None, [])
    run = simulate(box, ledger, conf, days=DAYS, people=PEOPLE)
    check_threading_and_reply(run)
    # The draft really is in the thread Gmail knows: its message carries the threadId.
    _, third = run.drafts["investor"][2]
    assert third.in_reply_to is not None and third.in_reply_to.endswith("@parkcapital.example>")


def test_microsoft_later_drafts_are_reply_drafts_and_a_reply_pauses(
    ca: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from microsoft.conftest import MsWorld

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-ca.pem"))
    ms = MsWorld(ca, tmp_path)  # type: ignore[arg-type]
    try:
        ms.graph.me = ME
        conf = config(tmp_path / "state", None, [])
        ms.config = conf.model_copy(update={"accounts": [ms.cfg]})
        ms.connect()
        ms.now = START
        box = GraphMailbox(ms.graph, ms.open(), ms)
        with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
            run = simulate(box, ledger, ms.config, days=DAYS, people=PEOPLE)
        check_threading_and_reply(run)
        # Each later draft was made by createReply on the last message of the conversation.
        assert ms.graph.routes["messages.create_reply"] >= 3
        _, second = run.drafts["investor"][1]
        assert second.in_reply_to is not None  # the Graph message it replies to
    finally:
        ms.close()
