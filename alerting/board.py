"""The alert board: every fingerprint's latest change, for operators in another process.

``paypulse alerts`` and ``paypulse ack`` run beside ``paypulse run``, not inside it, so the
engine's idea of what is firing is kept here, in the on-call state file: each change as it was
routed (the routes it went to) and whether a silence held it. A resolved alert stays on the
board, resolved, until its fingerprint fires again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from alerting.state_db import StateDB
from kernel.alerts import Alert
from kernel.errors import UsageError

__all__ = ["Board", "BoardEntry"]


@dataclass(frozen=True, slots=True)
class BoardEntry:
    alert: Alert
    routes: tuple[str, ...]
    silenced_by: str | None
    changed_at: float


class Board:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, alert: Alert, routes: Sequence[str], silenced_by: str | None, at: float) -> None:
        with self._db.write() as tx:
            tx.execute(
                "INSERT INTO board (fingerprint, alert_id, status, alert_json, routes, silenced_by,"
                " changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET"
                " alert_id = excluded.alert_id, status = excluded.status, alert_json = excluded.alert_json,"
                " routes = excluded.routes, silenced_by = excluded.silenced_by,"
                " changed_at = excluded.changed_at",
                (
                    alert.fingerprint,
                    alert.id,
                    alert.status,
                    json.dumps(alert.to_json(), sort_keys=True),
                    json.dumps(list(routes)),
                    silenced_by,
                    at,
                ),
            )

    def firing(self) -> list[BoardEntry]:
        """Firing alerts, oldest change first."""
        return self._select("WHERE status = 'firing' ORDER BY changed_at, fingerprint", ())

    def find(self, alert_id: str) -> BoardEntry:
        """The firing alert with this id or id prefix (as messages and ``paypulse alerts`` show it)."""
        wanted = alert_id.strip()
        found = [e for e in self.firing() if wanted and e.alert.id.startswith(wanted)]
        if len(found) != 1:
            why = "no firing alert has" if not found else f"{len(found)} firing alerts have"
            raise UsageError(f"{why} id {alert_id!r}; `paypulse alerts` lists the firing ones")
        return found[0]

    def _select(self, where: str, params: tuple) -> list[BoardEntry]:
        rows = self._db.read(f"SELECT alert_json, routes, silenced_by, changed_at FROM board {where}", params)
        return [BoardEntry(Alert.from_json(json.loads(a)), tuple(json.loads(r)), s, c) for a, r, s, c in rows]
