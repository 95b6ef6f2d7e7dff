"""The message templates and how each is filled: one Jinja environment per medium.

A template's name declares its medium (``*.md.j2`` for robots and ``json://``, ``*.html.j2`` for
e-mail, ``*.txt.j2`` for SMS and e-mail subjects), and its environment runs every ``{{ value }}``
through that medium's escaper (:mod:`alerting.escape`; HTML with Jinja's autoescape on top). Text
we write ourselves is :class:`~alerting.escape.OwnText` and shows as written. What goes into a
template, and in which words, is :mod:`alerting.render`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
from markupsafe import Markup

from alerting.escape import OwnText, clean_text, escape_markdown, one_line

__all__ = ["ESCAPERS", "Medium", "RenderedMessage", "fill_template", "medium_of"]

Medium = Literal["markdown", "html", "text"]
#: What a template's name ends with says which medium it renders for.
_SUFFIXES: Final[dict[str, Medium]] = {".md.j2": "markdown", ".html.j2": "html", ".txt.j2": "text"}
#: What every value from the data goes through, per medium. HTML then gets Jinja's autoescape.
ESCAPERS: Final[dict[Medium, Callable[[object], str]]] = {
    "markdown": escape_markdown,
    "html": one_line,
    "text": clean_text,
}

_TEMPLATES: Final = Path(__file__).parent / "delivery" / "templates"


def medium_of(template: str) -> Medium:
    """The medium a template renders for, from its name.

    >>> medium_of("alert.md.j2"), medium_of("alert.html.j2"), medium_of("alert.title.txt.j2")
    ('markdown', 'html', 'text')
    """
    for suffix, medium in _SUFFIXES.items():
        if template.endswith(suffix):
            return medium
    raise ValueError(f"template {template!r} declares no medium: name it *.md.j2, *.html.j2 or *.txt.j2")


def _environment(medium: Medium) -> jinja2.Environment:
    escape = ESCAPERS[medium]

    def finalize(value: object) -> object:
        """Every ``{{ value }}``: our own text (and HTML we built with markupsafe) as it is, data
        through the medium's escaper."""
        return value if isinstance(value, OwnText | Markup) else escape(value)

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the tests, not a page at 3 a.m.
        autoescape=medium == "html",  # markupsafe, after finalize; our own text is escaped too
        finalize=finalize,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


_ENVIRONMENTS: Final = {medium: _environment(medium) for medium in ESCAPERS}


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A title (one line: the DingTalk preview, the e-mail subject) and a body in ``medium``."""

    title: str
    body: str
    medium: Medium = "markdown"


def fill_template(template: str, context: dict[str, Any]) -> str:
    return _ENVIRONMENTS[medium_of(template)].get_template(template).render(context).strip()
