"""The banner state machine, against a real SQLite file and a ManualClock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.errors import StateError
from kernel.settings import StatusPageSettings
from statuspage import Banner, BannerState, BannerStore

T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z
HOLD = 300.0
MESSAGE = "Payments may be delayed. If you have paid, please do not pay again."


def make_alert(
    status: str = "firing",
    *,
    kind: str = "success_rate_drop",
    channel: str | None = "alipay",
    merchant: str | None = None,
    severity: str = "critical",
) -> Alert:
    started = datetime(2024, 5, 1, tzinfo=UTC)
    return Alert(
        kind=kind,
        scope=Scope(channel, merchant),
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        started_at=started,
        detected_at=started,
        value=0.71,
        baseline=0.96,
        impact=Impact(120.0, 9_000.0, (channel,) if channel else ()),
        suggested_action="switch alipay traffic to the backup route",
        summary="alipay success rate 71% vs 96%",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "banner.sqlite3"


def open_banner(db: Path, clock: ManualClock) -> Banner:
    return Banner(BannerStore(db), clock, hold_s=HOLD, message=MESSAGE)


@pytest.fixture
def banner(db: Path, clock: ManualClock) -> Banner:
    return open_banner(db, clock)


OFF = BannerState(False, (), None, None, "none")


def test_new_banner_is_off(banner: Banner) -> None:
    assert banner.state() == OFF
    assert banner.history() == []
    assert banner.updated_at() is None


def test_critical_customer_facing_alert_turns_banner_on(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto")
    [t] = banner.history()
    assert (t.at, t.on, t.channel, t.source, t.reason) == (T0, True, "alipay", "auto", "alert_firing")


@pytest.mark.parametrize(
    "alert",
    [
        make_alert(severity="warning"),
        make_alert(severity="info"),
        make_alert(kind="volume_drop"),  # not customer-facing
        make_alert(kind="callback_latency_high"),
        make_alert(merchant="m42"),  # one merchant's trouble stays off the public page
        make_alert(channel=None, merchant="m42"),
        make_alert("resolved"),  # nothing to release
    ],
    ids=["warning", "info", "volume_drop", "callback_latency", "merchant", "merchant_all", "resolved"],
)
def test_banner_ignores_alerts_that_are_not_its_business(banner: Banner, alert: Alert) -> None:
    banner.observe(alert)
    assert banner.state() == OFF
    assert banner.history() == []


def test_all_channel_alert_shows_all(banner: Banner) -> None:
    banner.observe(make_alert(channel="wechat"))
    banner.observe(make_alert(kind="stuck_payments", channel=None))
    assert banner.state().channels == ("all",)


def test_channels_are_listed_sorted(banner: Banner) -> None:
    banner.observe(make_alert(channel="wechat"))
    banner.observe(make_alert(channel="alipay"))
    assert banner.state().channels == ("alipay", "wechat")


def test_two_alerts_hold_it_until_both_resolve(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    banner.observe(make_alert(kind="stuck_payments"))
    clock.advance(60)
    banner.observe(make_alert("resolved"))
    clock.advance(HOLD * 2)
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto")
    banner.observe(make_alert("resolved", kind="stuck_payments"))
    assert banner.state().hold_until == T0 + 60 + HOLD * 2 + HOLD


def test_banner_turns_off_after_hold(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    clock.advance(100)
    banner.observe(make_alert("resolved"))
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto", None, T0 + 100 + HOLD)
    clock.advance(HOLD - 1)
    assert banner.state().on
    clock.advance(1)
    assert banner.state() == OFF
    assert [(t.at, t.on, t.reason) for t in banner.history()] == [
        (T0 + 100 + HOLD, False, "recovered"),
        (T0, True, "alert_firing"),
    ]
    assert banner.updated_at() == T0 + 100 + HOLD


def test_off_transition_is_recorded_at_hold_end_even_when_read_late(
    banner: Banner, clock: ManualClock
) -> None:
    banner.observe(make_alert())
    banner.observe(make_alert("resolved"))
    clock.advance(10 * HOLD)
    assert banner.history()[0].at == T0 + HOLD


def test_refire_during_hold_keeps_it_on(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    clock.advance(60)
    banner.observe(make_alert("resolved"))
    clock.advance(HOLD / 2)
    banner.observe(make_alert())
    clock.advance(HOLD)
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto")
    assert [t.reason for t in banner.history()] == ["alert_firing"]  # it never blinked


def test_channels_hold_independently(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert(channel="alipay"))
    banner.observe(make_alert(channel="wechat"))
    banner.observe(make_alert("resolved", channel="alipay"))
    assert banner.state().hold_until is None  # wechat is still held by its alert
    clock.advance(HOLD)
    assert banner.state().channels == ("wechat",)


def test_zero_hold_turns_off_at_once(db: Path, clock: ManualClock) -> None:
    banner = Banner(BannerStore(db), clock, hold_s=0, message=MESSAGE)
    banner.observe(make_alert())
    banner.observe(make_alert("resolved"))
    assert banner.state() == OFF


def test_downgraded_alert_releases_its_channel(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    banner.observe(make_alert(severity="warning"))
    assert banner.state().hold_until == T0 + HOLD


def test_override_on_shows_ops_message_until_it_runs_out(banner: Banner, clock: ManualClock) -> None:
    banner.override(True, "Card payments are down.", until=T0 + 600, by="alice")
    assert banner.state() == BannerState(True, ("all",), "Card payments are down.", T0, "override", T0 + 600)
    clock.advance(600)
    assert banner.state() == OFF
    assert [(t.at, t.on, t.reason) for t in banner.history()] == [
        (T0 + 600, False, "override_expired"),
        (T0, True, "override_on"),
    ]
    assert "alice" in banner.history()[1].detail


def test_override_on_without_message_uses_default_and_keeps_alert_channels(
    banner: Banner, clock: ManualClock
) -> None:
    banner.observe(make_alert(channel="wechat"))
    clock.advance(30)
    banner.override(True, None, until=None, by="alice")
    assert banner.state() == BannerState(True, ("wechat",), MESSAGE, T0, "override", None)


def test_override_off_hides_banner_until_cleared(banner: Banner, clock: ManualClock) -> None:
    banner.observe(make_alert())
    banner.override(False, None, until=None, by="bob")
    clock.advance(10_000)
    assert banner.state() == BannerState(False, (), None, None, "override", None)
    assert banner.clear_override(by="bob") is True
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto")
    assert banner.clear_override() is False
    assert [t.reason for t in banner.history()] == ["override_cleared", "override_off", "alert_firing"]


def test_alerts_keep_working_under_an_override(banner: Banner, clock: ManualClock) -> None:
    banner.override(False, None, until=T0 + 100, by="bob")
    banner.observe(make_alert())
    assert not banner.state().on
    clock.advance(100)
    assert banner.state() == BannerState(True, ("alipay",), MESSAGE, T0, "auto")


@pytest.mark.parametrize(
    ("until", "by", "error"),
    [(T0, "alice", "not after now"), (T0 - 5, "alice", "not after now"), (None, " ", "by must name")],
)
def test_bad_override_is_refused(banner: Banner, until: float | None, by: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        banner.override(True, "x", until=until, by=by)
    assert banner.state() == OFF


def test_restart_restores_channels_holds_and_override(db: Path, clock: ManualClock) -> None:
    first = open_banner(db, clock)
    first.observe(make_alert(channel="alipay"))
    first.observe(make_alert(channel="wechat"))
    clock.advance(50)
    first.observe(make_alert("resolved", channel="alipay"))
    first.override(True, "We are on it.", until=T0 + 1000, by="alice")
    before, history = first.state(), first.history()
    first.close()

    second = open_banner(db, clock)
    assert second.state() == before
    assert second.history() == history
    assert second.snapshot() == first.snapshot()
    second.clear_override()
    clock.advance(HOLD)  # alipay's hold, begun before the restart, still ends on time
    assert second.state().channels == ("wechat",)


def test_second_connection_sees_changes(db: Path, clock: ManualClock) -> None:
    writer, reader = open_banner(db, clock), open_banner(db, clock)
    assert not reader.state().on
    writer.observe(make_alert())
    assert reader.state().channels == ("alipay",)


def test_history_keeps_only_the_last_transitions(db: Path, clock: ManualClock) -> None:
    banner = Banner(BannerStore(db, keep=3), clock, hold_s=0, message=MESSAGE)
    for _ in range(5):
        banner.observe(make_alert())
        clock.advance(1)
        banner.observe(make_alert("resolved"))
        clock.advance(1)
    assert [(t.at, t.reason) for t in banner.history(10)] == [
        (T0 + 9, "recovered"),
        (T0 + 8, "alert_firing"),
        (T0 + 7, "recovered"),
    ]


def test_corrupt_snapshot_is_a_state_error(db: Path, clock: ManualClock) -> None:
    open_banner(db, clock).observe(make_alert())
    store = BannerStore(db)
    with store.transaction():
        store.save({"v": 99}, [], T0)
    with pytest.raises(StateError, match="version 99"):
        open_banner(db, clock)


def test_not_a_database_is_a_state_error(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "banner.sqlite3"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StateError, match="cannot be opened"):
        BannerStore(path)


@pytest.mark.parametrize(("hold", "message"), [(-1.0, MESSAGE), (10.0, "  ")])
def test_bad_parameters_are_refused(db: Path, clock: ManualClock, hold: float, message: str) -> None:
    with pytest.raises(ValueError):
        Banner(BannerStore(db), clock, hold_s=hold, message=message)


def test_from_settings_uses_db_hold_and_message(tmp_path: Path, clock: ManualClock) -> None:
    settings = StatusPageSettings(db=tmp_path / "var" / "b.sqlite3", hold=120, message="Slow payments.")
    banner = Banner.from_settings(settings, clock)
    banner.observe(make_alert())
    banner.observe(make_alert("resolved"))
    assert banner.state() == BannerState(True, ("alipay",), "Slow payments.", T0, "auto", None, T0 + 120)
    assert (tmp_path / "var" / "b.sqlite3").exists()


def test_reads_and_writes_from_two_threads_stay_consistent(banner: Banner, clock: ManualClock) -> None:
    seen: list[BannerState] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(banner.state())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(200):
            banner.observe(make_alert(channel=f"ch{i % 7}"))
            banner.observe(make_alert("resolved", channel=f"ch{i % 7}"))
    finally:
        stop.set()
        reader.join()
    assert seen
    assert all(s.on == bool(s.channels) for s in seen)
    assert banner.state().channels == tuple(sorted(f"ch{i}" for i in range(7)))
