"""Config problems in the user's words: which key, in which table, on which line, and why.

pydantic reports `('accounts', 0, 'local', 'calender'): Extra inputs are not permitted`; a
user wants "line 12: unknown key `calender` in [[accounts]] #1 (did you mean `calendars`?)".
Line numbers come from scanning the file's text for the table header and the key: TOML
parsers do not keep positions, and a line that is nearly right is better than none.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")
_SHOWN_CHARS = 60  # a value quoted back is cut here: a config line, not a file dump


class KeyLines:
    """Where each key of a TOML text is: (table, array index or None, key) -> line number."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, int | None, str], int] = {}
        self._tables: dict[tuple[str, int | None], int] = {}
        table, index = "", None
        counts: dict[str, int] = {}
        for n, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = header.group(2).replace('"', "").replace("'", "").strip()
                if header.group(1) == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
                else:
                    index = None
                self._tables.setdefault((table, index), n)
                continue
            key = _KEY.match(line)
            if key:
                self._lines.setdefault((table, index, key.group(1).strip('"')), n)

    def locate(self, sentence: str) -> str:
        """`sentence` with the line of the first `table.key` it names in front."""
        m = re.search(r"`(\w+)\.(\w+)`", sentence)
        at = self.line(m.group(1), None, m.group(2)) if m else None
        return _line(at) + sentence

    def line(self, table: str, index: int | None, key: str | None) -> int | None:
        if key is not None and (table, index, key) in self._lines:
            return self._lines[(table, index, key)]
        return self._tables.get((table, index))


def _where(table: str, index: int | None) -> str:
    if not table:
        return "at the top level"
    return f"in [[{table}]] #{index + 1}" if index is not None else f"in [{table}]"


def _shown(value: Any) -> str:
    from followup.terminal import printable

    text = printable(repr(value) if not isinstance(value, str) else f'"{value}"')
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _parent_model(
    root: type[BaseModel], table: str, loc: tuple[str | int, ...]
) -> type[BaseModel] | None:
    """The model whose keys a location names: an account's by its `kind`, else a table's."""
    if table == "accounts":
        return _account_model(loc)
    if not table:
        return root
    field = root.model_fields.get(table)
    annotation = field.annotation if field else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _account_model(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    from followup.config import GoogleAccount, LocalAccount, MicrosoftAccount

    kinds: dict[str | int, type[BaseModel]] = {
        "local": LocalAccount, "google": GoogleAccount, "microsoft": MicrosoftAccount}
    return kinds.get(loc[2]) if len(loc) > 2 else None


def _split(loc: tuple[str | int, ...]) -> tuple[str, int | None, list[str | int]]:
    """('accounts', 0, 'local', 'calendars', 2) -> ('accounts', 0, ['calendars', 2])."""
    if loc and loc[0] == "accounts" and len(loc) > 1 and isinstance(loc[1], int):
        rest = list(loc[2:])
        if rest and rest[0] in ("local", "google", "microsoft"):
            rest = rest[1:]
        return "accounts", loc[1], rest
    if len(loc) > 1 and isinstance(loc[0], str) and isinstance(loc[1], str):
        return loc[0], None, list(loc[1:])
    return "", None, list(loc)


def _key_name(table: str, index: int | None, rest: list[str | int]) -> str:
    """`schedule.day_end`, `calendars` (with " in [[accounts]] #1"), `working_days[2]`."""
    name = ""
    for part in rest:
        name += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if name else part)
    if table == "accounts" and index is not None:
        return f"`{name}` in [[accounts]] #{index + 1}" if name else f"[[accounts]] #{index + 1}"
    if table:
        return f"`{table}.{name}`" if name else f"[{table}]"
    return f"`{name}`"


_PLAIN = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text in quotes",
    "list_type": "must be a list, e.g. [\"a\", \"b\"]",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "time_type": "must be a time such as 09:00:00",
    "time_parsing": "must be a time such as 09:00:00",
    "too_short": "must not be empty",
}


def _problem(e: Any) -> str:
    kind = e["type"]
    ctx = e.get("ctx") or {}
    value = e.get("input")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()))
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        return f"must be {words} {bound}, not {_shown(value)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = _suggest(str(value), choices) if isinstance(value, str) else ""
        return f"must be one of {', '.join(choices)}, not {_shown(value)}{hint}"
    if kind == "value_error":
        return str(e["msg"]).removeprefix("Value error, ").replace(".;", ";").rstrip(".")
    if kind == "missing":
        return "is required"
    if kind in _PLAIN:
        return _PLAIN[kind] if kind == "too_short" else f"{_PLAIN[kind]}, not {_shown(value)}"
    return str(e["msg"])


def describe(err: ValidationError, root: type[BaseModel], lines: KeyLines) -> list[str]:
    """One sentence per problem, each with its line number where the text shows it."""
    problems = []
    for e in err.errors():
        loc: tuple[str | int, ...] = tuple(e["loc"])
        table, index, rest = _split(loc)
        key = next((p for p in rest if isinstance(p, str)), None)
        kind = e["type"]
        if kind == "extra_forbidden" and not table and isinstance(e.get("input"), dict):
            unknown = str(loc[-1])
            at = lines.line(unknown, None, None)
            close = difflib.get_close_matches(unknown, list(root.model_fields), n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            problems.append(f"{_line(at)}unknown table [{unknown}]{hint}")
        elif kind == "extra_forbidden":
            unknown = str(loc[-1])
            parent = _parent_model(root, table, loc)
            choices = list(parent.model_fields) if parent else []
            problems.append(f"{_line(lines.line(table, index, key))}unknown key `{unknown}` "
                            f"{_where(table, index)}{_suggest(unknown, choices)}")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            got = (e.get("ctx") or {}).get("tag")
            what = f"not {_shown(got)}{_suggest(str(got), _KINDS)}" if got is not None else (
                "and it is missing")
            problems.append(f"{_line(lines.line(table, index, 'kind'))}`kind` in [[accounts]] "
                            f"#{(index or 0) + 1} must be \"local\", \"google\" or "
                            f"\"microsoft\", {what}")
        elif kind == "value_error" and len(loc) == 1 and _parent_model(root, str(loc[0]), loc):
            # A table's own check across its keys: sentences that name the keys.
            problems += [lines.locate(p) for p in _problem(e).split("; ")]
        else:
            sep = ":" if kind == "value_error" else ""
            problems.append(f"{_line(lines.line(table, index, key))}"
                            f"{_key_name(table, index, rest)}{sep} {_problem(e)}")
    return problems


def sort_by_line(problems: list[str]) -> list[str]:
    """In file order; problems with no line (a missing key) after those with one."""
    def line(p: str) -> int:
        m = re.match(r"line (\d+): ", p)
        return int(m.group(1)) if m else 1 << 30

    return sorted(problems, key=line)


_KINDS = ("local", "google", "microsoft")


def _line(at: int | None) -> str:
    return f"line {at}: " if at else ""
