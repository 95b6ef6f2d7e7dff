"""The incidents API over real HTTP (uvicorn on 127.0.0.1, httpx), and `paypulse incident` as a real process.

Writes need the ops token like the override; reads are public. Bad values are 4xx naming the
problem, never a 500.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from paypulse.cli.main import main
from statuspage import Banner, create_app
from tests.unit.test_banner import T0

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-ops-token"
OPS = {"Authorization": f"Bearer {TOKEN}"}
OPENING = {
    "title": {"zh-CN": "支付宝支付失败率升高", "en": "Alipay payments failing"},
    "message": {"zh-CN": "我们正在调查。", "en": "We are investigating."},
    "channels": ["alipay"],
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def settings_for(tmp_path: Path, token: str | None = TOKEN) -> StatusPageSettings:
    return StatusPageSettings(
        db=tmp_path / "banner.sqlite3", ops_token=None if token is None else SecretStr(token)
    )


@pytest.fixture
def client(tmp_path: Path, clock: ManualClock, serve_asgi: Callable[[Any], str]) -> Iterator[httpx.Client]:
    settings = settings_for(tmp_path)
    url = serve_asgi(create_app(settings, Banner.from_settings(settings, clock)))
    with httpx.Client(base_url=url, timeout=5.0) as http:
        yield http


def test_ops_open_update_and_resolve_an_incident(client: httpx.Client, clock: ManualClock) -> None:
    opened = client.post("/api/incidents", json=OPENING, headers=OPS)
    assert opened.status_code == 201
    assert opened.json() == {
        "id": 1,
        "title": OPENING["title"],
        "channels": ["alipay"],
        "channel_names": ["支付宝"],
        "state": "investigating",
        "state_label": "正在调查",
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
        "resolved_at": None,
        "updates": [
            {
                "id": 1,
                "state": "investigating",
                "state_label": "正在调查",
                "message": OPENING["message"],
                "at": "2024-05-01T00:00:00Z",
            }
        ],
    }
    clock.advance(90)
    update = {"state": "identified", "message": {"zh-CN": "支付宝渠道故障，已联系支付宝。"}}
    assert client.post("/api/incidents/1/updates", json=update, headers=OPS).status_code == 201
    clock.advance(30.5)
    resolved = client.post(
        "/api/incidents/1/updates",
        json={"state": "resolved", "message": {"zh-CN": "已恢复。", "en": "Recovered."}, "by": "oncall"},
        headers={**OPS, "Accept-Language": "en"},
    )
    assert resolved.status_code == 201
    body = resolved.json()
    assert (body["state"], body["state_label"], body["channel_names"]) == ("resolved", "Resolved", ["Alipay"])
    assert body["resolved_at"] == "2024-05-01T00:02:00.500000Z"
    assert [(u["state"], u["at"]) for u in body["updates"]] == [
        ("resolved", "2024-05-01T00:02:00.500000Z"),
        ("identified", "2024-05-01T00:01:30Z"),
        ("investigating", "2024-05-01T00:00:00Z"),
    ]
    assert "by" not in body["updates"][0]  # who posted it is kept for ops, not published

    listed = client.get("/api/incidents", params={"lang": "en"})
    assert listed.headers["cache-control"] == "no-store"
    assert listed.json()["lang"] == "en"
    assert listed.json()["incidents"] == [body]
    assert client.get("/api/incidents/1", params={"lang": "en"}).json() == body


def test_incidents_are_listed_open_first_and_limited(client: httpx.Client, clock: ManualClock) -> None:
    for n in range(3):
        client.post("/api/incidents", json={**OPENING, "title": {"zh-CN": f"事件{n}"}}, headers=OPS)
        clock.advance(10)
    client.post(
        "/api/incidents/3/updates", json={"state": "resolved", "message": {"zh-CN": "好"}}, headers=OPS
    )
    listed = client.get("/api/incidents").json()["incidents"]
    assert [i["id"] for i in listed] == [2, 1, 3]
    assert [i["id"] for i in client.get("/api/incidents", params={"limit": 1}).json()["incidents"]] == [2]


def test_reading_incidents_is_public_and_cross_origin(client: httpx.Client) -> None:
    client.post("/api/incidents", json=OPENING, headers=OPS)
    response = client.get("/api/incidents", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/api/incidents",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400  # browsers on other origins may not post


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "missing header Authorization"),
        ({"Authorization": "Bearer wrong"}, 401, "not statuspage.ops_token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "missing header Authorization"),
    ],
    ids=["missing", "wrong", "not_bearer"],
)
def test_writing_incidents_needs_the_ops_token(
    client: httpx.Client, headers: dict[str, str], status: int, detail: str
) -> None:
    client.post("/api/incidents", json=OPENING, headers=OPS)
    for path, body in (
        ("/api/incidents", OPENING),
        ("/api/incidents/1/updates", {"state": "resolved", "message": {"zh-CN": "好"}}),
    ):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == status, path
        assert detail in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    [incident] = client.get("/api/incidents").json()["incidents"]
    assert incident["state"] == "investigating" and len(incident["updates"]) == 1


def test_incidents_cannot_be_written_without_a_configured_token(
    tmp_path: Path, clock: ManualClock, serve_asgi: Callable[[Any], str]
) -> None:
    settings = settings_for(tmp_path, token=None)
    url = serve_asgi(create_app(settings, Banner.from_settings(settings, clock)))
    response = httpx.post(f"{url}/api/incidents", json=OPENING, headers=OPS)
    assert response.status_code == 403
    assert "set statuspage.ops_token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc", "needle"),
    [
        ({**OPENING, "state": "fixed"}, ["body", "state"], "'investigating', 'identified' or 'monitoring'"),
        ({**OPENING, "state": "resolved"}, ["body", "state"], "'identified' or 'monitoring'"),
        ({**OPENING, "title": {"en": "Alipay"}}, ["body", "title", "zh-CN"], "Field required"),
        ({**OPENING, "title": {"zh-CN": "支付宝", "fr": "x"}}, ["body", "title", "fr"], "Extra inputs"),
        ({**OPENING, "title": {"zh-CN": "   "}}, ["body", "title", "zh-CN"], "must not be blank"),
        ({**OPENING, "title": {"zh-CN": "a\nb"}}, ["body", "title", "zh-CN"], "control characters (U+000A)"),
        ({**OPENING, "title": {"zh-CN": "长" * 201}}, ["body", "title", "zh-CN"], "at most 200 characters"),
        ({**OPENING, "message": {"zh-CN": ""}}, ["body", "message", "zh-CN"], "at least 1 character"),
        ({**OPENING, "message": {"zh-CN": "好", "en": "\x1b[2J"}}, ["body", "message", "en"], "control"),
        ({**OPENING, "message": "我们正在调查。"}, ["body", "message"], "valid dictionary"),
        ({**OPENING, "channels": ["ali pay"]}, ["body", "channels", 0], "should match pattern"),
        ({**OPENING, "channels": ["x"] * 21}, ["body", "channels"], "at most 20 items"),
        ({**OPENING, "by": ""}, ["body", "by"], "at least 1 character"),
        ({**OPENING, "titel": {"zh-CN": "x"}}, ["body", "titel"], "Extra inputs"),
        ({"message": OPENING["message"]}, ["body", "title"], "Field required"),
    ],
    ids=["bad_state", "opens_resolved", "no_zh", "unknown_lang", "blank", "newline_in_title", "long_title",
         "empty_message", "escape", "message_not_per_language", "bad_channel", "many_channels", "empty_by",
         "typo", "no_title"],
)  # fmt: skip
def test_bad_incident_is_a_422_naming_the_field(
    client: httpx.Client, body: dict[str, Any], loc: list[Any], needle: str
) -> None:
    response = client.post("/api/incidents", json=body, headers=OPS)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"] == loc and needle in e["msg"] for e in errors), errors
    assert client.get("/api/incidents").json()["incidents"] == []


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/api/incidents/1/updates", {"state": "done", "message": {"zh-CN": "好"}}, 422, "'resolved'"),
        ("/api/incidents/1/updates", {"message": {"zh-CN": "好"}}, 422, "Field required"),
        ("/api/incidents/1/updates", {"state": "identified", "message": {}}, 422, "Field required"),
        (
            "/api/incidents/x/updates",
            {"state": "identified", "message": {"zh-CN": "好"}},
            422,
            "valid integer",
        ),
        (
            "/api/incidents/0/updates",
            {"state": "identified", "message": {"zh-CN": "好"}},
            422,
            "greater than",
        ),
        (
            "/api/incidents/99/updates",
            {"state": "identified", "message": {"zh-CN": "好"}},
            404,
            "no incident 99",
        ),
        ("/api/incidents/2/updates", {"state": "identified", "message": {"zh-CN": "好"}}, 409, "is resolved"),
    ],
    ids=["bad_state", "no_state", "no_zh", "id_not_a_number", "id_zero", "unknown_id", "after_resolved"],
)
def test_bad_update_is_a_4xx(
    client: httpx.Client, path: str, body: dict[str, Any], status: int, needle: str
) -> None:
    client.post("/api/incidents", json=OPENING, headers=OPS)
    client.post("/api/incidents", json=OPENING, headers=OPS)
    client.post(
        "/api/incidents/2/updates", json={"state": "resolved", "message": {"zh-CN": "好"}}, headers=OPS
    )
    response = client.post(path, json=body, headers=OPS)
    assert response.status_code == status, response.text
    assert needle in json.dumps(response.json()["detail"], ensure_ascii=False)
    assert [len(i["updates"]) for i in client.get("/api/incidents").json()["incidents"]] == [1, 2]


def test_reading_an_unknown_incident_is_a_404(client: httpx.Client) -> None:
    response = client.get("/api/incidents/5")
    assert (response.status_code, response.json()) == (404, {"detail": "there is no incident 5"})
    assert client.get("/api/incidents", params={"limit": 0}).status_code == 422


def test_an_oversized_incident_is_refused_before_it_is_read(client: httpx.Client) -> None:
    body = {**OPENING, "message": {"zh-CN": "长" * 40_000}}
    response = client.post("/api/incidents", json=body, headers=OPS)
    assert response.status_code == 413


# -- the command line ----------------------------------------------------------------------------


def paypulse(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``paypulse incident ...`` as a real process, as ops run it."""
    return subprocess.run(
        [sys.executable, "-m", "paypulse", "incident", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_incidents_show_on_the_page_served_from_the_same_store(
    tmp_path: Path, serve_asgi: Callable[[Any], str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "state" / "banner.sqlite3"
    config = tmp_path / "paypulse.toml"
    config.write_text(f'[statuspage]\ndb = "{db}"\n')
    opened = paypulse(
        config, "open", "--title", "银联支付延迟", "--title-en", "UnionPay delays",
        "--message", "部分银联支付延迟到账。", "--channel", "unionpay", "--by", "oncall",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith("incident 1 opened: investigating at ")
    assert (
        run_in_process(capsys, config, "update", "1", "--state", "monitoring", "-m", "已修复，观察中。")[0]
        == 0
    )
    code, out, _ = run_in_process(capsys, config, "resolve", "1")
    assert (code, out.split(" at ")[0]) == (0, "incident 1 resolved: resolved")

    settings = StatusPageSettings(db=db)
    url = serve_asgi(create_app(settings, Banner.from_settings(settings, ManualClock(T0))))
    [incident] = httpx.get(f"{url}/api/incidents").json()["incidents"]
    assert (incident["title"], incident["channel_names"]) == (
        {"zh-CN": "银联支付延迟", "en": "UnionPay delays"}, ["银联"],
    )  # fmt: skip
    assert [(u["state"], u["message"]) for u in incident["updates"]] == [
        ("resolved", {"zh-CN": "此事件已解决。", "en": "This incident has been resolved."}),
        ("monitoring", {"zh-CN": "已修复，观察中。"}),
        ("investigating", {"zh-CN": "部分银联支付延迟到账。"}),
    ]
    page = httpx.get(f"{url}/", headers={"Accept-Language": "en"}).text
    assert "UnionPay delays" in page and "Affected: UnionPay" in page

    code, out, _ = run_in_process(capsys, config, "list", "--json")
    assert json.loads(out)["updates"][-1]["by"] == "oncall"


def run_in_process(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    """``paypulse incident ...`` through the command's own entry point, in this process (each real
    process spends seconds importing the engine): (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["paypulse", "incident", *args, "--config", str(config)])
        with pytest.raises(SystemExit) as exited:
            main()
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("update", "7", "--state", "identified", "-m", "x"), "paypulse: there is no incident 7\n"),
        (("update", "1", "--state", "fixed", "-m", "x"),
         "paypulse: state 'fixed' is not one of investigating, identified, monitoring, resolved\n"),
        (("open", "--title", "t", "-m", "x", "--state", "resolved"),
         "paypulse: state 'resolved': an incident opens as one of investigating, identified, monitoring\n"),
        (("open", "--title", "t", "-m", " "), "paypulse: message (zh-CN) must not be blank\n"),
        (("open", "--title", "t", "-m", "x", "--channel", "a b"),
         "paypulse: channel 'a b' must be 1-64 letters, digits and _ - . :\n"),
    ],
    ids=["unknown", "bad_state", "opens_resolved", "blank", "bad_channel"],
)  # fmt: skip
def test_cli_mistakes_are_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], line: str
) -> None:
    config = tmp_path / "paypulse.toml"
    config.write_text(f'[statuspage]\ndb = "{tmp_path / "banner.sqlite3"}"\n')
    assert run_in_process(capsys, config, "open", "--title", "事件", "-m", "调查中")[0] == 0
    code, _, err = run_in_process(capsys, config, *args)
    assert (code, err) == (2, line)


def test_cli_cannot_update_a_resolved_incident(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "paypulse.toml"
    config.write_text(f'[statuspage]\ndb = "{tmp_path / "banner.sqlite3"}"\n')
    assert run_in_process(capsys, config, "open", "--title", "事件", "-m", "调查中")[0] == 0
    assert run_in_process(capsys, config, "resolve", "1", "-m", "好了")[0] == 0
    code, _, err = run_in_process(capsys, config, "update", "1", "--state", "monitoring", "-m", "再看看")
    assert (code, err) == (
        2,
        "paypulse: incident 1 is resolved; open a new incident instead of updating it\n",
    )
    code, out, _ = run_in_process(capsys, config, "list")
    assert (code, out.splitlines()[0]) == (0, "#1 resolved: 事件")
