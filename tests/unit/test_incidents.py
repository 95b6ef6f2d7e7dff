"""Incidents and their updates: states, texts, storage in the banner's SQLite file, and the migration
of files written before incidents existed. Real SQLite files in tmp_path, a ManualClock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kernel.clock import ManualClock
from kernel.errors import PayPulseError, StateError
from kernel.settings import StatusPageSettings
from statuspage import STATES, Banner, BannerStore, IncidentError, Incidents, create_app
from statuspage.incidents import MAX_MESSAGE, MAX_TITLE, OPEN_STATES
from statuspage.store import SCHEMA_VERSION
from tests.unit.test_banner import HOLD, MESSAGE, T0, make_alert
from tests.unit.test_statuspage_limits import call

TITLE = {"zh-CN": "支付宝支付失败率升高", "en": "Alipay payments failing"}
SAID = {"zh-CN": "我们正在调查。", "en": "We are investigating."}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "banner.sqlite3"


@pytest.fixture
def incidents(db: Path, clock: ManualClock) -> Incidents:
    return Incidents(BannerStore(db), clock)


def test_updates_are_kept_newest_first_with_their_state_and_time(
    incidents: Incidents, clock: ManualClock
) -> None:
    opened = incidents.open(TITLE, SAID, channels=["alipay"])
    assert (opened.id, opened.state, opened.created_at, opened.channels) == (
        1,
        "investigating",
        T0,
        ("alipay",),
    )
    clock.advance(120)
    incidents.update(opened.id, "identified", {"zh-CN": "支付宝渠道故障。"})
    clock.advance(300)
    incidents.update(
        opened.id, "monitoring", {"zh-CN": "已切换备用线路。", "en": "Switched to a backup route."}
    )
    clock.advance(600)
    done = incidents.resolve(opened.id, {"zh-CN": "已恢复。"})
    assert [(u.state, u.at, u.message) for u in done.updates] == [
        ("resolved", T0 + 1020, {"zh-CN": "已恢复。"}),
        ("monitoring", T0 + 420, {"zh-CN": "已切换备用线路。", "en": "Switched to a backup route."}),
        ("identified", T0 + 120, {"zh-CN": "支付宝渠道故障。"}),
        ("investigating", T0, SAID),
    ]
    assert (done.state, done.resolved, done.updated_at, done.resolved_at) == (
        "resolved",
        True,
        T0 + 1020,
        T0 + 1020,
    )


def test_an_incident_may_go_back_to_investigating_before_it_is_resolved(incidents: Incidents) -> None:
    opened = incidents.open(TITLE, SAID, state="monitoring")
    back = incidents.update(opened.id, "investigating", {"zh-CN": "问题再次出现。"})
    assert [u.state for u in back.updates] == ["investigating", "monitoring"]
    assert back.resolved_at is None


@pytest.mark.parametrize("state", STATES)
def test_nothing_can_be_added_after_resolved(incidents: Incidents, state: str) -> None:
    opened = incidents.open(TITLE, SAID)
    incidents.resolve(opened.id, {"zh-CN": "已恢复。"})
    with pytest.raises(IncidentError) as raised:
        incidents.update(opened.id, state, {"zh-CN": "再次更新"})
    assert raised.value.reason == "resolved"
    assert str(raised.value) == "incident 1 is resolved; open a new incident instead of updating it"
    assert [u.state for u in incidents.get(opened.id).updates] == ["resolved", "investigating"]


def test_incident_errors_end_the_command_line_in_one_line() -> None:
    assert issubclass(IncidentError, PayPulseError)


@pytest.mark.parametrize("state", ["Investigating", "fixed", "", "resolved "])
def test_unknown_states_are_refused(incidents: Incidents, state: str) -> None:
    opened = incidents.open(TITLE, SAID)
    with pytest.raises(IncidentError, match="is not one of investigating, identified, monitoring, resolved"):
        incidents.update(opened.id, state, SAID)
    with pytest.raises(IncidentError) as raised:
        incidents.open(TITLE, SAID, state=state)
    assert raised.value.reason == "bad_state"
    assert len(incidents.latest()) == 1


def test_an_incident_cannot_open_resolved(incidents: Incidents) -> None:
    assert OPEN_STATES == ("investigating", "identified", "monitoring")
    with pytest.raises(
        IncidentError, match="an incident opens as one of investigating, identified, monitoring"
    ):
        incidents.open(TITLE, SAID, state="resolved")
    assert incidents.latest() == []


def test_unknown_incident_is_not_found(incidents: Incidents) -> None:
    for attempt in (lambda: incidents.get(7), lambda: incidents.update(7, "identified", SAID)):
        with pytest.raises(IncidentError, match="there is no incident 7") as raised:
            attempt()
        assert raised.value.reason == "not_found"


@pytest.mark.parametrize(
    ("title", "message", "error"),
    [
        ({"en": "Alipay"}, SAID, "title needs a zh-CN text"),
        (TITLE, {"zh-CN": ""}, "message needs a zh-CN text"),
        (TITLE, {"zh-CN": "好", "fr": "bien"}, "message: fr is not one of zh-CN, en"),
        ({"zh-CN": "   "}, SAID, r"title \(zh-CN\) must not be blank"),
        ({"zh-CN": "支付\n宝"}, SAID, r"title \(zh-CN\) must not contain control characters \(U\+000A\)"),
        (TITLE, {"zh-CN": "好", "en": "a\x00b"}, r"message \(en\) must not contain control characters"),
        (TITLE, {"zh-CN": "\x1b[2J"}, r"message \(zh-CN\) must not contain control characters \(U\+001B\)"),
        ({"zh-CN": "长" * (MAX_TITLE + 1)}, SAID, f"title \\(zh-CN\\) must be at most {MAX_TITLE}"),
        (TITLE, {"zh-CN": "长" * (MAX_MESSAGE + 1)}, f"must be at most {MAX_MESSAGE} characters"),
    ],
    ids=["no_zh_title", "empty_zh", "unknown_lang", "blank", "title_newline", "nul", "escape", "long_title",
         "long_message"],
)  # fmt: skip
def test_bad_texts_are_refused(
    incidents: Incidents, title: dict[str, str], message: dict[str, str], error: str
) -> None:
    with pytest.raises(IncidentError, match=error) as raised:
        incidents.open(title, message)
    assert raised.value.reason == "bad_text"
    assert incidents.latest() == []


def test_english_is_optional_and_paragraphs_are_kept(incidents: Incidents) -> None:
    opened = incidents.open(
        {"zh-CN": " 银联延迟 ", "en": ""}, {"zh-CN": "第一段。\r\n\r\n第二段。", "en": None}
    )
    assert opened.title == {"zh-CN": "银联延迟"}
    assert opened.updates[0].message == {"zh-CN": "第一段。\n\n第二段。"}


@pytest.mark.parametrize("channel", ["", "ali pay", "<b>", "支付宝", "x" * 65])
def test_bad_channel_ids_are_refused(incidents: Incidents, channel: str) -> None:
    with pytest.raises(IncidentError) as raised:
        incidents.open(TITLE, SAID, channels=[channel])
    assert raised.value.reason == "bad_channel"


def test_texts_are_stored_verbatim_and_survive_a_restart(db: Path, clock: ManualClock) -> None:
    hostile = {"zh-CN": "<script>alert(1)</script> & \"引号\" 'x'", "en": "<img src=x onerror=alert(1)>"}
    with BannerStore(db) as store:
        Incidents(store, clock).open(hostile, hostile, channels=["alipay", "card"], by="oncall")
    with BannerStore(db) as store:
        [again] = Incidents(store, clock).latest()
    assert (again.title, again.updates[0].message, again.updates[0].by) == (hostile, hostile, "oncall")
    assert again.channels == ("alipay", "card")


def test_unresolved_incidents_come_first_then_the_latest_updated(
    incidents: Incidents, clock: ManualClock
) -> None:
    first = incidents.open({"zh-CN": "一"}, SAID)
    clock.advance(60)
    second = incidents.open({"zh-CN": "二"}, SAID)
    clock.advance(60)
    third = incidents.open({"zh-CN": "三"}, SAID)
    clock.advance(60)
    incidents.resolve(third.id, {"zh-CN": "好了"})
    clock.advance(60)
    incidents.update(first.id, "identified", {"zh-CN": "找到了"})
    assert [i.id for i in incidents.latest()] == [first.id, second.id, third.id]
    assert [i.id for i in incidents.latest(limit=2)] == [first.id, second.id]
    with pytest.raises(ValueError, match="limit must be >= 1"):
        incidents.latest(0)


# -- the store and its migration -----------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE banner (id INTEGER PRIMARY KEY CHECK (id = 1), snapshot TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, turned_on INTEGER NOT NULL, channel TEXT,
    source TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL
);
"""


def test_a_banner_file_from_before_incidents_is_migrated_and_keeps_its_banner(
    db: Path, clock: ManualClock
) -> None:
    with BannerStore(db) as store:  # what the previous release wrote: make it, then strip the new parts
        banner = Banner(store, clock, hold_s=HOLD, message=MESSAGE)
        banner.observe(make_alert())
        before = (banner.state(), banner.history())
    old = sqlite3.connect(db)
    old.executescript("DROP TABLE incident_updates; DROP TABLE incidents; PRAGMA user_version = 0;")
    old.close()
    assert _tables(db) == ["banner", "transitions"]

    with BannerStore(db) as store:
        banner = Banner(store, clock, hold_s=HOLD, message=MESSAGE)
        assert (banner.state(), banner.history()) == before
        Incidents(store, clock).open(TITLE, SAID)
    assert _tables(db) == ["banner", "incident_updates", "incidents", "transitions"]
    assert _user_version(db) == SCHEMA_VERSION == 2
    with BannerStore(db) as store:  # opening a current file changes nothing
        assert [i.title for i in Incidents(store, clock).latest()] == [TITLE]


def test_a_file_created_by_hand_with_the_old_schema_is_migrated(db: Path, clock: ManualClock) -> None:
    old = sqlite3.connect(db)
    old.executescript(OLD_SCHEMA)
    old.close()
    with BannerStore(db) as store:
        assert Incidents(store, clock).open(TITLE, SAID).id == 1
    assert _user_version(db) == SCHEMA_VERSION


def test_a_file_from_a_newer_release_is_refused(db: Path) -> None:
    BannerStore(db).close()
    newer = sqlite3.connect(db)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(StateError, match="has schema version 3, newer than this PayPulse reads"):
        BannerStore(db)


def test_incident_writes_do_not_hide_a_banner_change_from_another_process(
    db: Path, clock: ManualClock
) -> None:
    """Incidents share the banner's connection; writing one must not mark the other process's change seen."""
    page = Banner(BannerStore(db), clock, hold_s=HOLD, message=MESSAGE)
    monitor = Banner(BannerStore(db), clock, hold_s=HOLD, message=MESSAGE)
    assert page.state().on is False
    monitor.observe(make_alert())  # the monitor's process turns the banner on
    Incidents(page.store, clock).open(TITLE, SAID)  # then the page's process writes an incident
    assert (page.state().on, page.state().channels) == (True, ("alipay",))
    page.close()
    monitor.close()


def _tables(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return sorted(name for (name,) in rows)
    finally:
        conn.close()


def _user_version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# -- escaping on the page ------------------------------------------------------------------------


def test_incident_texts_are_escaped_on_the_page(tmp_path: Path, clock: ManualClock) -> None:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3", ops_token=SecretStr("t"))
    banner = Banner.from_settings(settings, clock)
    app: Any = create_app(settings, banner)
    Incidents(banner.store, clock).open(
        {"zh-CN": "<script>alert('t')</script>"}, {"zh-CN": "<img src=x onerror=alert(1)>", "en": "a & b"}
    )
    page = call(app, "GET", "/", headers={"Accept-Language": "en"}).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert (
        '<span class="incident-title" lang="zh-CN">&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;</span>'
        in page
    )
    assert '<p class="update-message">a &amp; b</p>' in page
    zh = call(app, "GET", "/").text
    assert '<p class="update-message">&lt;img src=x onerror=alert(1)&gt;</p>' in zh
    assert call(app, "GET", "/api/incidents").json()["incidents"][0]["title"] == {
        "zh-CN": "<script>alert('t')</script>"
    }  # the API gives the text as written; whoever shows it escapes it
