"""Commands load only what they use: `--help` and `status` answer without the template engine,
the cloud libraries or Alembic, and an idle `run --once` without Alembic or the cloud libraries.

Each command runs in a fresh interpreter (imports are per process); the modules it loaded are
read from sys.modules at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("jinja2", "msal", "googleapiclient", "google.auth", "alembic")
RUN = """
import json, sys
from followup.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True,
                          timeout=120, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    return set(result["modules"])


def heavy_in(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for d in ("calendar", "contacts", "followups", "Maildir/cur", "Maildir/new",
              "Maildir/tmp"):
        (tmp_path / d).mkdir(parents=True)
    path = tmp_path / "followup.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[user]\naddresses = ["me@example.com"]\n'
        f'timezone = "UTC"\n[[accounts]]\nkind = "local"\nname = "work"\n'
        f'calendars = ["{tmp_path / "calendar"}"]\nmaildir = "{tmp_path / "Maildir"}"\n'
        f'contacts = "{tmp_path / "contacts"}"\nfollowups = "{tmp_path / "followups"}"\n')
    return path


def test_help_loads_no_config_library_and_nothing_heavy() -> None:
    modules = loaded("--help")
    assert heavy_in(modules, (*HEAVY, "pydantic", "sqlalchemy", "structlog")) == []


def test_status_loads_nothing_heavy(config: Path) -> None:
    assert heavy_in(loaded("--config", str(config), "status")) == []
    # Also once the ledger exists (after a first cycle): its schema is checked, not migrated.
    loaded("--config", str(config), "--log-level", "error", "run", "--once")
    assert heavy_in(loaded("--config", str(config), "status")) == []


def test_an_idle_run_loads_no_alembic_and_no_cloud_library(config: Path) -> None:
    first = loaded("--config", str(config), "--log-level", "error", "run", "--once")
    assert "alembic" in first  # the first run creates the schema
    idle = loaded("--config", str(config), "--log-level", "error", "run", "--once")
    assert heavy_in(idle, ("alembic", "msal", "googleapiclient", "google.auth", "requests")) \
        == []


def test_the_schema_head_read_from_the_files_is_alembics() -> None:
    """The start-up check reads the head revision from the migration files' text; Alembic's
    own reading of them must agree, or a ledger could be taken for current when it is not."""
    from followup.ledger.migrate import _alembic_head, head_revision

    assert head_revision() == _alembic_head()


def test_idle_commands_answer_from_the_snapshot_with_nothing_heavy(config: Path) -> None:
    """Nothing changed since the last run: `run --once`, `status` and `plan` answer from the
    snapshot without pydantic, SQLAlchemy, structlog or the engine (service.snapshot)."""
    loaded("--config", str(config), "--log-level", "error", "run", "--once")
    for argv in (("run", "--once"), ("status",), ("plan",)):
        modules = loaded("--config", str(config), "--log-level", "error", *argv)
        assert heavy_in(modules, (*HEAVY, "pydantic", "sqlalchemy", "structlog",
                                  "followup.engine", "icalendar")) == [], argv
