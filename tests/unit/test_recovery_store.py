"""The recovery store of `paypulse run` and the alert log written once: a store serves one input,
``--fresh`` starts over, and an alert change the log already holds is not written again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from dataflows.recovery import open_store
from engine.output import EngineOutput
from engine.outputs import Outputs
from kernel.alerts import Alert, Impact, Scope
from kernel.errors import ConfigError
from kernel.settings import Settings


def _settings(tmp: Path) -> Settings:
    return Settings(recovery={"dir": tmp / "rec"}, alerting={"log": tmp / "alerts.jsonl"})


def _alert(minute: int, status: str = "firing") -> Alert:
    t = datetime(2026, 3, 2, 9, minute, tzinfo=UTC)
    return Alert(
        "volume_drop", Scope("alipay"), status, "warning", t, t, 1.0, 2.0, Impact(1.0, 2.0), "check", "x"
    )


class Seen:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def observe(self, alert: Alert) -> None:
        self.alerts.append(alert)


def test_a_new_store_then_a_resumed_one_counts_the_lines_written_since(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    log = settings.alerting.log
    log.write_bytes(b'{"before":"the store"}\n')
    first = open_store(settings, "Kafka topic t")
    assert (first.resumed, first.alerts_logged) == (False, 0)
    with log.open("ab") as f:
        f.write(b'{"a":1}\n{"b":2}\n{"c":')  # the last line cut short by a crash
    again = open_store(settings, "Kafka topic t")
    assert (again.resumed, again.alerts_logged) == (True, 2)
    assert log.read_bytes().endswith(b'{"b":2}\n')


def test_a_store_refuses_another_input_and_fresh_starts_over(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    open_store(settings, "Kafka topic t")
    with pytest.raises(
        ConfigError, match=r"recovery.dir = .*read Kafka topic t.*reads Kafka topic u.*--fresh"
    ):
        open_store(settings, "Kafka topic u")
    fresh = open_store(settings, "Kafka topic u", fresh=True)
    assert (fresh.resumed, fresh.alerts_logged) == (False, 0)


def test_a_folder_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no PayPulse state"):
        open_store(settings, "Kafka topic t")


def test_outputs_skip_the_changes_the_log_holds_and_tell_subscribers_only_new_ones(tmp_path: Path) -> None:
    seen = Seen()
    outputs = Outputs(tmp_path / "alerts.jsonl", tmp_path / "dead.jsonl", [seen])
    outputs.resume(3)  # changes 0, 1 and 2 are in the log
    a, b, c, d = _alert(1), _alert(1, "resolved"), _alert(5), _alert(5, "resolved")
    outputs.write(EngineOutput(alerts=[b, c], first_alert_seq=1))  # produced again after a restart
    outputs.write(EngineOutput(alerts=[d], first_alert_seq=3))
    outputs.write(EngineOutput(alerts=[a], first_alert_seq=-1))  # not numbered: always written
    outputs.close()
    written = [orjson.loads(line)["id"] for line in (tmp_path / "alerts.jsonl").read_bytes().splitlines()]
    assert written == [d.id, a.id]
    assert seen.alerts == [d, a]
