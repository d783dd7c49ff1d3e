"""A template in the user's folder cannot run code as the daemon's user (issue 9).

Each template below is a known way out of an unsandboxed Jinja2 environment; each tries to
create a file. Rendered by the Composer it must fail as a TemplateProblem, and the file must
not exist afterwards.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from followup.core.compose import BLOCK_TEMPLATE, Composer, TemplateProblem
from followup.core.state import PersonState

from .factories import BERLIN, JANE, USER, local

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ placeholder.__globals__['__builtins__']['__import__']('os').popen('touch MARKER') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch MARKER') }}",
    "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
    "{{ c(['touch', 'MARKER']) }}{% endif %}{% endfor %}",
    "{{ '{0.__init__.__globals__[os].popen}'.format(cycler) }}",
    "{{ people.__class__.__init__.__globals__ }}",
    "{{ people.append(people[0]) }}",  # immutable: the values given may not be changed
]


def render_block(templates: Path) -> str:
    composer = Composer(USER, templates_dir=templates)
    met = local(2026, 3, 3, 10)
    jane = PersonState(JANE.email, JANE.name, met, "Benchmark chat", met, 1, False)
    block = composer.nurture_block(
        [jane], start=local(2026, 3, 24, 9), end=local(2026, 3, 24, 9, 30),
        conflict=False, where_drafts_are="your Drafts folder", tz=BERLIN,
    )
    return block.description


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_user_template_cannot_run_commands(
    escape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / BLOCK_TEMPLATE).write_text(escape.replace("MARKER", str(marker)))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TemplateProblem):
        render_block(templates)
    assert not marker.exists()


def test_the_escape_does_run_commands_without_the_sandbox(tmp_path: Path) -> None:
    """The payload is real: an ordinary Jinja2 environment runs it."""
    marker = tmp_path / "ran"
    jinja2.Environment().from_string(ESCAPES[0].replace("MARKER", str(marker))).render()
    assert marker.exists()


def test_the_shipped_block_template_renders_in_the_sandbox(tmp_path: Path) -> None:
    text = render_block(tmp_path)  # an empty folder: the shipped templates
    assert "Jane Doe" in text and "your Drafts folder" in text
