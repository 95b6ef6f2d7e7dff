"""The rejects file: every row we could not use, with the file, line, reason and raw text.

A bad row never stops a run. It is written here and counted by file and reason in the summary,
so finance sees how much of a statement was read before trusting what it says.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import IO, Final

import msgspec

__all__ = ["RejectLog"]

_KEPT_CHARS: Final = 512


class RejectLog:
    """Appends reject records as JSON Lines and counts them per ``(source, reason)``."""

    def __init__(self, stream: IO[bytes], counts: Counter[tuple[str, str]] | None = None) -> None:
        self._stream = stream
        self._encode = msgspec.json.Encoder().encode
        self.counts: Counter[tuple[str, str]] = Counter(counts)  # carried over from records already written

    def add(self, source: str, path: Path, line: int, reason: str, detail: str, raw: bytes | str) -> None:
        """Record one rejected row (``line`` 0 for the file as a whole, e.g. a missing summary)."""
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        record = {
            "source": source,
            "file": str(path),
            "line": line,
            "reason": reason,
            "detail": detail,
            "raw": text[:_KEPT_CHARS],
        }
        self._stream.write(self._encode(record) + b"\n")
        self.counts[(source, reason)] += 1

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts as ``{source: {reason: n}}`` for summary.json."""
        out: dict[str, dict[str, int]] = {}
        for (source, reason), n in sorted(self.counts.items()):
            out.setdefault(source, {})[reason] = n
        return out
