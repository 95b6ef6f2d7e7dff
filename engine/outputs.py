"""Where the engine's results go: the alert log, the dead-letter file, the banner and the
notification fan-out. Every adapter (Bytewax sink, plain replay loop, demo) calls the same
:class:`Outputs`, so each output is written in one place.

The alert log and the dead-letter file are append-only JSON Lines, flushed per batch: they are
the record of what happened, readable with ``jq`` and replayable by tests.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from engine.core import EngineOutput
from kernel.alerts import Alert
from kernel.clock import ManualClock
from kernel.events import DeadLetter
from reconciliation.tickets import LiveTickets

__all__ = ["AlertSubscriber", "JsonlFile", "Outputs"]


class AlertSubscriber(Protocol):
    """Anything that wants every alert change: the banner, the notification fan-out."""

    def observe(self, alert: Alert) -> None: ...


class JsonlFile:
    """An append-only JSON Lines file, created with its folder on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open across batches
        self._file.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def dead_letter_row(letter: DeadLetter) -> dict:
    """The dead-letter file's line: the raw line (text if it decodes, else base64) and why."""
    try:
        raw: dict = {"raw": letter.raw.decode("utf-8")}
    except UnicodeDecodeError:
        raw = {"raw_base64": base64.b64encode(letter.raw).decode()}
    return {"reason": letter.reason, "detail": letter.detail, **raw}


class Outputs:
    """Writes one batch's results everywhere they go, and moves the event-time clock."""

    def __init__(
        self,
        alert_log: Path,
        dead_letter: Path,
        subscribers: list[AlertSubscriber] | None = None,
        event_clock: ManualClock | None = None,
        log_marks: Callable[[Alert], dict[str, Any]] | None = None,
        tickets: LiveTickets | None = None,
    ) -> None:
        self.alert_log = JsonlFile(alert_log)
        self.dead_letter = JsonlFile(dead_letter)
        self.subscribers = subscribers or []
        self.event_clock = event_clock  # the banner's hold runs on event time in replays
        self.alerts_written = 0
        self.log_marks = log_marks  # what else a change's line says, e.g. the silence holding it
        self.logged = 0  # numbered alert changes the log holds: 0 .. logged - 1
        self.tickets = tickets  # live reconciliation's differences go there

    def resume(self, logged: int) -> None:
        """After a restart from a snapshot: the log already holds changes 0 .. ``logged`` - 1, and
        the engine will produce some of them again (those after its snapshot)."""
        self.logged = logged

    def write(self, out: EngineOutput, event_time_ms: int | None = None) -> None:
        """Write one output; a numbered alert change the log already holds is skipped.

        The subscribers see a change before the log takes it: after a crash between the two, the
        change is produced again and reaches them twice (the banner and the fan-out take a
        repeated change as a no-op), never zero times.
        """
        if self.event_clock is not None and event_time_ms is not None and event_time_ms >= 0:
            self.event_clock.set(event_time_ms / 1000)
        self.dead_letter.write([dead_letter_row(d) for d in out.dead_letters])
        if self.tickets is not None:
            self.tickets.write(out.differences)  # before the alerts that tell of them
        alerts = out.alerts
        if out.first_alert_seq >= 0:
            alerts = alerts[max(self.logged - out.first_alert_seq, 0) :]
            self.logged = max(self.logged, out.first_alert_seq + len(out.alerts))
        for alert in alerts:
            for subscriber in self.subscribers:
                subscriber.observe(alert)
        marks = self.log_marks or (lambda _alert: {})
        self.alert_log.write([{**a.to_json(), **marks(a)} for a in alerts])
        self.alerts_written += len(alerts)

    def close(self) -> None:
        self.alert_log.close()
        self.dead_letter.close()
        if self.tickets is not None:
            self.tickets.close()
