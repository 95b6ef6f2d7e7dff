"""Reading an input file as lines of text, whatever Chinese finance software saved it as.

Provider statements arrive as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or GBK (Alipay's
download, and any file a Windows spreadsheet saved). The encoding is judged once, from the head
of the file; a line that does not decode in it is handed back as undecodable, so one mangled row
becomes a reject instead of stopping the run.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kernel.errors import InputFileError

__all__ = ["Line", "open_lines", "sniff_encoding"]

_HEAD_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an input file: its 1-based number, its text (None if it did not decode) and raw bytes."""

    number: int
    text: str | None
    raw: bytes


def sniff_encoding(head: bytes) -> str | None:
    """The encoding of a file starting with ``head``: ``utf-8-sig``, ``utf-8`` or ``gb18030``.

    Judged line by line: a UTF-8 file with one line pasted from a GBK spreadsheet is still UTF-8
    (that line becomes a reject), and a GBK file is GBK. GB18030 reads every GBK and GB2312 file.
    None means binary (a NUL byte) or text in neither encoding. ``head`` may end mid-character.

    >>> sniff_encoding(codecs.BOM_UTF8 + "订单".encode())
    'utf-8-sig'
    >>> sniff_encoding("支付宝交易号".encode()), sniff_encoding("支付宝交易号".encode("gbk"))
    ('utf-8', 'gb18030')
    >>> sniff_encoding(b"\\n".join(["交易".encode(), "订单".encode(), "坏行".encode("gbk")]))  # one GBK line
    'utf-8'
    >>> sniff_encoding(b"PK\\x03\\x04\\x00\\x00") is None  # a zip file
    True
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if b"\x00" in head:
        return None
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last may be cut mid-character
    utf8 = other = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    if utf8 >= other:
        return "utf-8"
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return "gb18030"


def open_lines(path: Path, what: str) -> Iterator[Line]:
    """The lines of ``path`` without line endings, decoded in the encoding its head shows.

    Raises :class:`InputFileError` naming the file and ``what`` it should be when it is missing,
    unreadable, empty or not text.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputFileError(path, f"no such file; expected {what}") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a directory; expected {what}") from None
    except OSError as err:
        raise InputFileError(path, f"cannot read it ({err.strerror}); expected {what}") from None
    with handle:
        encoding = sniff_encoding(handle.read(_HEAD_BYTES))
        if encoding is None:
            raise InputFileError(path, f"not UTF-8 or GBK text; expected {what}")
        handle.seek(0)
        if encoding == "utf-8-sig":
            handle.read(len(codecs.BOM_UTF8))
            encoding = "utf-8"
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            try:
                text: str | None = raw.decode(encoding)
            except UnicodeDecodeError:
                text = None
            yield Line(number, text, raw)
