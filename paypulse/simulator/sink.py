"""Where simulated lines go: one writer loop that every sink (file, stdout, Kafka) shares.

A sink is just ``write(line)``; the loop owns the order and the counting, so a new sink is a
one-line callable and cannot reorder or drop lines by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, Any

import orjson

__all__ = ["line_writer", "write_labels", "write_lines"]


def write_lines(chunks: Iterable[tuple[int, list[bytes]]], write: Callable[[bytes], None]) -> int:
    """Hand every line of every chunk to ``write`` (one line, no newline), in order; return the count.

    >>> out = []
    >>> write_lines([(1000, [b'{"a":1}', b'{"a":2}']), (2000, [])], out.append)
    2
    >>> out
    [b'{"a":1}', b'{"a":2}']
    """
    count = 0
    for _, lines in chunks:
        for line in lines:
            write(line)
        count += len(lines)
    return count


def line_writer(stream: IO[bytes], flush: bool = False) -> Callable[[bytes], None]:
    """A ``write`` for :func:`write_lines` that appends each line and a newline to a binary stream
    (and, with ``flush``, hands it on at once: a live feed read by another process).

    >>> import io
    >>> buffer = io.BytesIO()
    >>> write_lines([(0, [b"x", b"y"])], line_writer(buffer))
    2
    >>> buffer.getvalue()
    b'x\\ny\\n'
    """
    put = stream.write

    def write(line: bytes) -> None:
        put(line)
        put(b"\n")
        if flush:
            stream.flush()

    return write


def write_labels(labels: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    """Write incident labels as JSON Lines; return the count."""
    count = 0
    for label in labels:
        stream.write(orjson.dumps(label) + b"\n")
        count += 1
    return count
