"""The newcomer's path: `followup demo`, then re-runs, a deleted draft, and undo."""

from __future__ import annotations

import hashlib
import io
import mailbox
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup.cli import main
from followup.demo.workspace import build_workspace


def _snapshot(root: Path) -> dict[str, str]:
    """Every user-visible file (not the ledger) and a hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "state" not in p.relative_to(root).parts
    }


def _drafts(root: Path) -> list[str]:
    return sorted(str(m["To"]) for m in mailbox.Maildir(root / "Maildir" / ".Drafts", create=False))


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    rc = main(["--log-format", "json", *args], out=out)
    return rc, out.getvalue()


def test_demo_shows_every_part_of_the_loop(tmp_path: Path) -> None:
    rc, text = _cli("demo", "--workdir", str(tmp_path / "demo"), "--timezone", "Europe/London")
    assert rc == 0, text
    # New people get a contact, a draft and a block; each skip comes with its reason.
    for person in ("jane.doe@acme-robotics.example", "hank@globex.example",
                   "marie@radium-institute.example", "grace@cobol.example"):
        assert person in text
    for code in ("[cancelled]", "[internal]", "[resource]", "[large]", "[declined]",
                 "[recurring_seen]", "[machine]", "[already_in_touch]"):
        assert code in text, code
    assert "[annotated]" in text  # Grace was already in the address book
    assert "Quarterly sync with Wonka Industries" in text  # upcoming, not yet followed up
    assert "mutt -F" in text and "khal" in text and "khard" in text
    drafts = _drafts(tmp_path / "demo")
    assert "Jane Doe <jane.doe@acme-robotics.example>" in drafts
    # The demo's private notes stay on the block; the shareable line and the promise go out.
    (jane,) = [f"{m['Subject']}\n{m.get_payload(decode=True).decode()}"
               for m in mailbox.Maildir(tmp_path / "demo" / "Maildir" / ".Drafts", create=False)
               if "jane.doe@acme-robotics.example" in str(m["To"])]
    assert "Loved hearing how your team rebuilt the calibration rig" in jane
    assert "the Kalman filter article" in jane
    assert "wary" not in jane and "discount" not in jane and "Siemens" not in jane
    # Bytes: read_text() would turn the CRLF of a folded line into LF, and then the unfolding
    # misses it (the fold falls wherever the draft's Maildir file name puts it).
    blocks = "".join(p.read_bytes().decode() for p in
                     (tmp_path / "demo" / "followups").glob("*.ics"))
    assert "wary of small" in blocks.replace("\r\n ", "")
    assert "Your notes stay private" in text
    assert not any("peter@initech.example" in d for d in drafts)  # Ada already wrote to him
    assert not any("charles@" in d or "bill@" in d for d in drafts)


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    rc, text = _cli("demo", "--workdir", str(tmp_path))
    assert rc == 2
    assert "not a followup demo workspace" in text
    assert (tmp_path / "precious.txt").read_text() == "mine"


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ws"
    config = build_workspace(root, datetime.now(UTC), ZoneInfo("UTC"))
    return root, config


def test_a_second_run_creates_nothing_and_a_deleted_draft_stays_deleted(
    workspace: tuple[Path, Path],
) -> None:
    root, config = workspace
    assert _cli("run", "--once", "--config", str(config))[0] == 0
    after_first = _snapshot(root)
    assert len(_drafts(root)) >= 6

    assert _cli("run", "--once", "--config", str(config))[0] == 0
    assert _snapshot(root) == after_first

    drafts = mailbox.Maildir(root / "Maildir" / ".Drafts", create=False)
    key, msg = next(iter(drafts.items()))
    deleted_to = str(msg["To"])
    drafts.remove(key)
    assert _cli("run", "--once", "--config", str(config))[0] == 0
    assert deleted_to not in _drafts(root)


def test_undo_leaves_the_users_folders_as_they_were(workspace: tuple[Path, Path]) -> None:
    root, config = workspace
    before = _snapshot(root)
    assert _cli("run", "--once", "--config", str(config))[0] == 0
    assert _snapshot(root) != before
    rc, text = _cli("undo", "--yes", "--config", str(config))
    assert rc == 0, text
    assert _snapshot(root) == before


def test_undo_waits_for_a_running_daemon(workspace: tuple[Path, Path]) -> None:
    from followup.config import load_config
    from followup.service.lock import StateLock

    root, config = workspace
    assert _cli("run", "--once", "--config", str(config))[0] == 0
    written = _snapshot(root)
    with StateLock(load_config(config).state_path()):  # as a running daemon holds it
        rc, _ = _cli("undo", "--yes", "--config", str(config))
    assert rc == 3
    assert _snapshot(root) == written


def test_demo_again_keeps_what_the_user_added_and_renews_its_own_files(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    assert _cli("demo", "--workdir", str(root), "--timezone", "UTC")[0] == 0
    first_drafts = _drafts(root)
    # The user drops a meeting of their own in, keeps notes, changes a demo file, and reads
    # a draft in mutt (which renames it, new flags).
    mine = root / "calendar" / "my-meeting.ics"
    mine.write_bytes((root / "calendar" / "colleague.ics").read_bytes().replace(
        b"demo-colleague@", b"my-own-meeting@"))  # with a colleague: no draft of its own
    (root / "notes.txt").write_text("my notes")
    edited = root / "khal.conf"
    edited.write_text(edited.read_text() + "# my change\n")
    drafts = root / "Maildir" / ".Drafts" / "cur"
    read = next(drafts.iterdir())
    read.rename(read.with_name(read.name + "R"))
    outside = tmp_path / "precious.txt"
    outside.write_text("not the demo's")
    marker = root / ".followup-demo"
    marker.write_text(marker.read_text().replace('"files": {', '"files": {"../precious.txt": '
                                                 '"0", "calendar/../../precious.txt": "0",', 1))

    rc, text = _cli("demo", "--workdir", str(root), "--timezone", "UTC")
    assert rc == 0, text
    assert mine.exists() and (root / "notes.txt").read_text() == "my notes"
    assert edited.read_text().endswith("# my change\n")
    assert "khal.conf: changed since the last demo, so kept as it is" in text
    assert outside.read_text() == "not the demo's"
    # The demo's own files were replaced, not added to: one copy of each draft.
    assert _drafts(root) == first_drafts
    assert len(list((root / "Maildir" / "new").iterdir())) == 1  # one invitation mail
    assert len(list((root / "calendar").glob("coffee-jane*.ics"))) == 1


def test_demo_writes_a_muttrc_that_recalls_the_drafts(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    rc, text = _cli("demo", "--workdir", str(root), "--timezone", "UTC")
    assert rc == 0, text
    assert f"mutt -F {root}/muttrc" in text
    settings = dict(
        line.removeprefix("set ").split(" = ", 1)
        for line in (root / "muttrc").read_text().splitlines() if line.startswith("set ")
    )
    drafts = Path(settings["postponed"].strip('"'))
    assert drafts == (root / "Maildir" / ".Drafts").resolve()
    assert len(mailbox.Maildir(drafts, create=False)) == len(_drafts(root)) > 0
    assert Path(settings["folder"].strip('"')) == (root / "Maildir").resolve()
