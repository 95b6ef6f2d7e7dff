"""The status page's on-call API: silences and acks behind the ops token, the signed link without it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerting.acks import link_signature
from alerting.desk import Desk
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.settings import AlertingSettings, StatusPageSettings
from statuspage import Banner, create_app

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer ops-token"}


def test_silence_and_ack_over_http(tmp_path: Path) -> None:
    clock = ManualClock(T0.timestamp())
    page = StatusPageSettings(db=tmp_path / "banner.sqlite3", ops_token=SecretStr("ops-token"))
    alerting = AlertingSettings(escalation={"ack_secret": "s3cret", "ack_url": "https://s.example"})  # type: ignore[arg-type]
    db = StateDB(tmp_path / "oncall.sqlite3")
    desk = Desk(alerting, db, clock)
    alert = Alert("volume_drop", Scope("alipay"), "firing", "critical", T0, T0, 1, 2, Impact(1, 2), "a", "s")
    desk.board.record(alert, ["groups"], None, clock.now())
    client = TestClient(create_app(page, Banner.from_settings(page, clock), desk=desk))

    body = {"matchers": {"merchant": "m42"}, "duration": "2h", "comment": "migration", "by": "li"}
    assert client.post("/api/silences", json=body).status_code == 401
    made = client.post("/api/silences", json=body, headers=AUTH)
    assert made.status_code == 201 and made.json()["state"] == "active"
    bad = client.post("/api/silences", json={**body, "matchers": {"shop": "x"}}, headers=AUTH)
    assert bad.status_code == 422 and "'shop' is not one of" in bad.json()["detail"]
    assert [s["id"] for s in client.get("/api/silences", headers=AUTH).json()] == [made.json()["id"]]
    assert client.delete(f"/api/silences/{made.json()['id']}", headers=AUTH).json()["state"] == "expired"

    expires = int(clock.now()) + 3600
    forged = {"by": "zhang", "exp": expires, "sig": "0" * 64}
    assert client.get(f"/api/ack/{alert.id}", params=forged).status_code == 403
    assert client.post(f"/api/ack/{alert.id}", params=forged).status_code == 403
    link = {"by": "zhang", "exp": expires, "sig": link_signature("s3cret", alert.id, "zhang", expires)}
    # opening the link (or a chat app's preview of it) shows a button and acknowledges nothing
    page = client.get(f"/api/ack/{alert.id}", params=link)
    assert page.status_code == 200 and '<form method="post">' in page.text and alert.id in page.text
    assert [a.action for a in desk.audit.latest()] == ["silence.expire", "silence.add"]
    acked = client.post(f"/api/ack/{alert.id}", params=link)
    assert acked.status_code == 200 and acked.json()["new"] is True
    again = client.post(f"/api/alerts/{alert.id[:8]}/ack", json={"by": "li"}, headers=AUTH)
    assert again.json() == {**acked.json(), "new": False}
    assert [a.action for a in desk.audit.latest()] == ["ack", "silence.expire", "silence.add"]
    db.close()
