"""Where followup's files are: the config file, the state dir, paths relative to the config.

Kept apart from config.py (pydantic) so that the commands that answer from the last cycle's
snapshot (service.snapshot) find the state dir without validating the config.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "followup"


def default_config_path() -> Path:
    env = os.environ.get("FOLLOWUP_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "followup.toml"


def resolve(base: Path | None, p: str | None) -> str | None:
    """A path from the config file: `~` expanded, relative to the config's folder; URLs and
    None as they are."""
    if p is None or "://" in p:
        return p
    q = Path(p).expanduser()
    return str(q if q.is_absolute() or base is None else base / q)


def state_dir(configured: str | None) -> Path:
    """The state dir: the config's `state_dir` (already resolved), else the XDG state dir."""
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_state_dir(APP))
