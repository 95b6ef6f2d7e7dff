"""Where lines come from: the Source contract and the plain sources (file, stdin, simulator).

A source is a set of partitions, each a sequence of ``(offset, line)`` that can be resumed
from an offset, which is all a dataflow needs for exactly-once reading after a crash. Lines
are raw bytes: parsing belongs to the core, in batches. Kafka is read with Bytewax's own
connector (see :mod:`dataflows.sources`), so it is not here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

__all__ = ["FileSource", "SimulatorSource", "Source", "StdinSource", "batched"]


class Source(Protocol):
    def partitions(self) -> list[str]: ...

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, line)``; resuming at an offset yields the lines after it."""
        ...


class FileSource:
    """A JSON Lines file; the offset is the byte position after the line, so resume is a seek."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def partitions(self) -> list[str]:
        return [str(self.path)]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        with open(partition, "rb") as f:
            if resume_at:
                f.seek(resume_at)
            offset = resume_at or 0
            for line in f:
                offset += len(line)
                line = line.rstrip(b"\r\n")
                if line:
                    yield offset, line


class StdinSource:
    """Standard input; it cannot be rewound, so a resume offset only skips lines."""

    def partitions(self) -> list[str]:
        return ["stdin"]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        offset = 0
        for line in sys.stdin.buffer:
            offset += 1
            if resume_at is not None and offset <= resume_at:
                continue
            line = line.rstrip(b"\r\n")
            if line:
                yield offset, line


class SimulatorSource:
    """The simulator as a source: deterministic by seed, so the offset is a line count."""

    def __init__(self, simulator: object) -> None:
        self.simulator = simulator

    def partitions(self) -> list[str]:
        return ["simulator"]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        offset = 0
        for line in self.simulator.lines():  # type: ignore[attr-defined]
            offset += 1
            if resume_at is not None and offset <= resume_at:
                continue
            yield offset, line


def batched(lines: Iterator[tuple[int, bytes]], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """Group ``(offset, line)`` into ``(last offset, lines)`` of at most ``size`` lines.

    >>> list(batched(iter([(1, b"a"), (2, b"b"), (3, b"c")]), 2))
    [(2, [b'a', b'b']), (3, [b'c'])]
    """
    batch: list[bytes] = []
    offset = 0
    for offset, line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield offset, batch
            batch = []
    if batch:
        yield offset, batch
