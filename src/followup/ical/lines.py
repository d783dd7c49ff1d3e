"""Cut iCalendar text into its calendars and their top-level components, before parsing any.

icalendar parses a whole file at once: one line it cannot place (a stray "X" between two
events, a broken time zone) fails the file, and every valid meeting beside it is lost. Here the
text is only split at its BEGIN/END lines, so each component is parsed on its own and one
broken event costs that event alone. Nothing is interpreted beyond the component names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_NEWLINE = re.compile(r"\r\n|\r|\n")
_CHECK_EVERY = 2_000  # lines between two calls of `tick` on a large input


@dataclass
class Block:
    """One top-level component (VEVENT, VTIMEZONE...) as unfolded content lines."""

    name: str  # upper-case: "VEVENT"
    line: int  # 1-based line number of its BEGIN in the input
    lines: list[str] = field(default_factory=list)
    complete: bool = False  # its END was found before the next component or the end of input

    @property
    def text(self) -> str:
        return "\r\n".join(self.lines) + "\r\n"


@dataclass
class CalendarText:
    """One VCALENDAR: its own properties (METHOD, X-WR-TIMEZONE...) and its components."""

    header: list[tuple[int, str]] = field(default_factory=list)  # (line number, content line)
    blocks: list[Block] = field(default_factory=list)
    bare: bool = False  # components found outside any VCALENDAR (a lone VEVENT)


@dataclass
class SplitText:
    calendars: list[CalendarText] = field(default_factory=list)
    stray: list[int] = field(default_factory=list)  # lines outside any component


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded content lines (RFC 5545 3.1) with the number of their first physical line."""
    current: str | None = None
    first = 0
    # Only CR and LF end a line: str.splitlines() would also cut at U+2028 and friends.
    for number, physical in enumerate(_NEWLINE.split(text), start=1):
        if physical[:1] in (" ", "\t") and current is not None:
            current += physical[1:]
            continue
        if current is not None:
            yield first, current
        current, first = physical, number
    if current is not None:
        yield first, current


def split_text(text: str, tick: Callable[[], None] = lambda: None) -> SplitText:
    """The calendars and top-level components of `text`; never raises on bad structure.

    A component whose END is missing ends at the next BEGIN of a top-level component or of a
    calendar, or at the end of the input, and is marked incomplete. `tick` is called every
    few thousand lines so the caller can stop a very large input.
    """
    out = SplitText()
    calendar: CalendarText | None = None
    block: Block | None = None
    inner: list[str] = []  # components open inside the block (VALARM, STANDARD...)

    def close_block(complete: bool) -> None:
        nonlocal block, calendar
        if block is None:
            return
        block.complete = complete
        if calendar is None:
            calendar = CalendarText(bare=True)
            out.calendars.append(calendar)
        calendar.blocks.append(block)
        block = None
        inner.clear()

    for count, (number, line) in enumerate(logical_lines(text)):
        if count % _CHECK_EVERY == 0:
            tick()
        stripped = line.strip()
        if not stripped:
            continue
        key = stripped.upper()
        begin = key.startswith("BEGIN:")
        end = key.startswith("END:")
        name = key.split(":", 1)[1].strip() if begin or end else ""
        if block is not None:
            if begin and (name == "VCALENDAR" or (name == block.name and not inner)):
                close_block(complete=False)  # a writer forgot an END: the next one starts
            elif end and name == "VCALENDAR":
                close_block(complete=False)
            elif end and name == block.name:
                # Inner components left open (a VALARM without its END) are closed here.
                block.lines.extend(f"END:{n}" for n in reversed(inner))
                block.lines.append(line)
                close_block(complete=True)
                continue
            elif end and name not in inner:
                continue  # an END that closes nothing would close the block too early
            else:
                block.lines.append(line)
                if begin:
                    inner.append(name)
                elif end:
                    while inner and inner.pop() != name:
                        pass
                continue
        if begin and name == "VCALENDAR":
            calendar = CalendarText()
            out.calendars.append(calendar)
        elif begin:
            if calendar is None:
                calendar = CalendarText(bare=True)
                out.calendars.append(calendar)
            block = Block(name, number, [line])
        elif end and name == "VCALENDAR" and calendar is not None and not calendar.bare:
            calendar = None
        elif calendar is not None and not calendar.bare and not end:
            calendar.header.append((number, line))
        else:
            out.stray.append(number)
    close_block(complete=False)
    return out
