"""Make a value from the data safe for the medium it goes to: HTML, Markdown or plain text.

Alert text carries data: channel and merchant ids, order ids in a stuck-payments sample, error
codes and detector reasons in a summary. Rendered verbatim, ``<script>`` reaches an e-mail,
``[click](http://evil)`` or ``@all`` a DingTalk robot, and a newline a mail header. Each template
declares its medium by its file name (``alert.html.j2``, ``alert.md.j2``, ``alert.title.txt.j2``),
and :mod:`alerting.render` runs every ``{{ value }}`` of that template through the medium's
escaper here (for HTML, Jinja's autoescape with markupsafe after :func:`one_line`). Text we write
ourselves (kind words, numbers, times, our suggested actions) is wrapped in :class:`OwnText`
and goes into Markdown and plain text as is; HTML still escapes it, because it is text, not markup.

All three media first make the value :func:`one_line`, so it stays one inline span wherever a
template puts it. Markdown then replaces every character that could be markup with its numeric
character reference: a CommonMark renderer shows the character, and no raw ``[``, ``<``, ``*``,
``|``, `````, ``~`` or ``@`` is left for a robot's own parser to turn into a link, a tag, a
mention or a table. Characters that are markup only in one position (``#``, ``-``, ``+`` and
``=`` opening a line, ``1.`` or ``1)`` opening a list, ``_`` outside a word, the ``:`` of ``://``
and the ``.`` of ``www.``, which make autolinks) are replaced there only, so an ordinary summary
("alipay: success rate 78.8% vs normal 97.0% (cusum 27.2 / 16.5)") reads the same in WeCom's
text messages and ``json://`` payloads, which show the Markdown source.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TEXT_VALUE_MAX", "OwnText", "clean_text", "escape_markdown", "one_line"]

#: Longest value :func:`clean_text` lets into a plain-text line (SMS, e-mail subject).
TEXT_VALUE_MAX: Final = 100


class OwnText(str):
    """Text PayPulse writes itself, not taken from the data: words, formatted numbers, times, ids.

    Markdown and plain-text templates print it as is, so our own Markdown (``**First action:**``)
    and readable numbers survive; HTML templates still escape it. Anything not wrapped in
    ``OwnText`` is data and goes through the medium's escaper.

    >>> OwnText("82.00%") == "82.00%", isinstance(OwnText("x"), str)
    (True, True)
    """

    __slots__ = ()


def _one_line_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {c: None for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
    for c in "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029":  # line and field breaks read as a space
        table[ord(c)] = " "
    for c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        table[ord(c)] = None  # bidi controls could show an id reversed or hide what follows it
    return table


_ONE_LINE: Final = _one_line_table()


def one_line(value: object) -> str:
    """A value as one line of visible text: control and bidi characters dropped, every line
    break and run of whitespace one space, both ends trimmed.

    Every medium starts here, so a value cannot start a new Markdown block, a mail header or an
    SMS line, and a right-to-left override cannot show an order id backwards.

    >>> one_line("o-1\\n# heading\\r\\n\\x00@all\\u202e  x ")
    'o-1 # heading @all x'
    """
    return " ".join(str(value).translate(_ONE_LINE).split())


def _entity(char: str) -> str:
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;"}.get(char) or f"&#{ord(char)};"


# Each alternative ends with the one character to replace; what comes before it is kept.
_MARKDOWN: Final = re.compile(
    r"""\A\d+[.)]            # "1." or "1)" opening the line: an ordered list
      | \A[#+\-=]            # a heading, a bullet, a thematic break or setext underline
      | [\\`*\[\]|~@<>&]     # markup anywhere: emphasis, code, links, tables, strikes, tags, mentions
      | (?<![^\W_])_         # "_" that can open or close emphasis (not inside a word) ...
      | _(?![^\W_])          # ... from either side
      | :(?=//)              # "http://": a bare-URL autolink
      | (?<=[Ww]{3})\.       # "www.": an autolink without a scheme
    """,
    re.VERBOSE,
)


def escape_markdown(value: object) -> str:
    """A value as one inline span of Markdown text that shows the value and can make no markup.

    >>> escape_markdown("[click](http://evil) **bold** @all")
    '&#91;click&#93;(http&#58;//evil) &#42;&#42;bold&#42;&#42; &#64;all'
    >>> escape_markdown('<at user_id="all">x</at> | `rm` ~~s~~')
    '&lt;at user_id="all"&gt;x&lt;/at&gt; &#124; &#96;rm&#96; &#126;&#126;s&#126;&#126;'
    >>> escape_markdown("# 1. o-981\\n- x"), escape_markdown("1. x"), escape_markdown("wechat_pay _x_")
    ('&#35; 1. o-981 - x', '1&#46; x', 'wechat_pay &#95;x&#95;')
    >>> escape_markdown("alipay: success rate 78.8% vs 97.0% (cusum 27.2 / 16.5); e.g. orders o-1, o-2")
    'alipay: success rate 78.8% vs 97.0% (cusum 27.2 / 16.5); e.g. orders o-1, o-2'
    """
    return _MARKDOWN.sub(lambda m: m.group()[:-1] + _entity(m.group()[-1]), one_line(value))


def clean_text(value: object, limit: int = TEXT_VALUE_MAX) -> str:
    """A value for a plain-text line (SMS, an e-mail subject): one line, at most ``limit`` characters.

    >>> clean_text("m42\\r\\nBcc: all@example.com")
    'm42 Bcc: all@example.com'
    >>> clean_text("o-" + "9" * 200, limit=10)
    'o-9999999…'
    """
    line = one_line(value)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
