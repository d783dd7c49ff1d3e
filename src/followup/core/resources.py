"""The user's own resources (articles, talks, tools, events) and which one fits a person.

A TOML file, `drafts.resources_file`:

    [[resource]]
    title = "Our benchmark of vector databases"
    url = "https://example.com/vector-bench"
    tags = ["vector search", "databases", "benchmark"]

A later touch gives the resource whose tags (and title words) best match the words of the
person's last meeting and the user's notes about them; one never given to them before.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MAX_RESOURCES = 1000
_WORD = re.compile(r"[^\W\d_][\w-]{2,}", re.UNICODE)
# Words too common to say what a meeting was about.
_STOP_WORDS = (
    "the and for with our your you this that from about into over what when will have has "
    "are was were not but all any can had her his its may new one out see she they them "
    "der die das und mit für von ein eine wir sie ist los las una con para del que les des "
    "pour avec une est sur call meeting chat coffee sync intro catch"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


@dataclass(frozen=True, slots=True)
class Resource:
    title: str
    url: str
    tags: tuple[str, ...] = ()

    @property
    def ident(self) -> str:
        """How `PersonState.given` remembers it was given."""
        return f"resource:{self.url or self.title}"


def words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP)


def load_resources(path: Path | None) -> list[Resource]:
    """The resources in `path`; a missing or broken file is logged and gives none (drafts
    then fall back to promises, the next step, or a placeholder)."""
    if path is None:
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        log.warning("resources.unreadable", file=str(path), reason=type(e).__name__)
        return []
    items = data.get("resource") or data.get("resources") or []
    out: list[Resource] = []
    if not isinstance(items, list):
        log.warning("resources.unreadable", file=str(path), reason="no [[resource]] list")
        return []
    for item in items[:MAX_RESOURCES]:
        if not isinstance(item, dict):
            continue
        title, url, tags = item.get("title"), item.get("url", ""), item.get("tags", [])
        if not isinstance(title, str) or not title.strip() or not isinstance(url, str):
            log.warning("resources.entry_skipped", file=str(path), reason="no title")
            continue
        if url and not url.startswith(("https://", "http://")):
            log.warning("resources.entry_skipped", file=str(path), reason="url not http(s)")
            continue
        clean_tags = tuple(t.strip() for t in tags if isinstance(t, str) and t.strip()) \
            if isinstance(tags, list) else ()
        out.append(Resource(" ".join(title.split())[:200], url.strip(), clean_tags))
    return out


def best_resource(
    resources: Sequence[Resource], about: str, given: Collection[str]
) -> Resource | None:
    """The resource that shares the most words with `about` (a tag counts double), among
    those not given yet; None when none shares a word."""
    wanted = words(about)
    best: tuple[int, int, Resource] | None = None
    for i, r in enumerate(resources):
        if r.ident in given:
            continue
        tag_words = words(" ".join(r.tags))
        score = 2 * len(tag_words & wanted) + len(words(r.title) & wanted)
        if score and (best is None or score > best[0]):
            best = (score, -i, r)
    return None if best is None else best[2]
