"""The right scope and numbers that agree: one all-payments alert when nearly every channel fires
the same kind, per-channel alerts otherwise, and no alert whose own numbers contradict it."""

from __future__ import annotations

import orjson

from alerting.lifecycle import AlertLifecycle, consistent
from detectors.any_of import AnyOf
from detectors.protocol import Verdict
from kernel.alerts import Alert, Scope
from kernel.observation import Observation

T0 = 1_772_409_600_000
W = 10_000
FOUR = ("alipay", "card", "unionpay", "wechat")


def _verdict(kind: str, firing: bool = True, value: float = 300.0, baseline: float = 100.0) -> Verdict:
    return Verdict(kind, 1.0 if firing else 0.1, firing, None, value, baseline, "p 1e-9")


def _round(lifecycle: AlertLifecycle, i: int, rows: list[tuple[str, Verdict]], scores=None) -> list[Alert]:
    verdicts = [
        (v, Observation(Scope(c) if c else Scope(), T0 + i * W, T0 + (i + 1) * W, attempts=60), "")
        for c, v in rows
    ]
    return lifecycle.observe(verdicts, T0 + (i + 1) * W, FOUR, scores or {})


def _rows(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.kind, a.scope.label, a.status) for a in alerts]


def test_every_channel_spiking_at_once_is_one_all_payments_alert_naming_them() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    scores = {("volume_spike", Scope(c)): 0.8 for c in FOUR}  # all on the way up
    out: list[Alert] = []
    for i in range(6):
        firing = FOUR[: min(i + 1, 4)]
        out += _round(lifecycle, i, [(c, _verdict("volume_spike")) for c in firing], scores)
    assert _rows(out) == [("volume_spike", "all channels", "firing")]  # the others joined it quietly
    # the busiest crossed first, the others on the way: shop-wide at once, naming all four
    assert out[0].impact.channels == FOUR
    assert "channels: alipay, card, unionpay, wechat" in out[0].summary
    assert out[0].value == 300.0 and out[0].baseline == 100.0  # the firing channel's counts
    for i in range(6, 9):
        out += _round(lifecycle, i, [(c, _verdict("volume_spike", firing=False, value=100.0)) for c in FOUR])
    assert _rows(out)[1:] == [("volume_spike", "all channels", "resolved")]


def test_channels_that_fire_together_add_up_in_the_all_payments_alert() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    scores = {("volume_spike", Scope(c)): 0.8 for c in FOUR[:3]}  # the fourth is quiet
    out = _round(lifecycle, 0, [(c, _verdict("volume_spike")) for c in FOUR[:3]], scores)
    assert _rows(out) == [("volume_spike", "all channels", "firing")]
    assert out[0].impact.channels == ("alipay", "card", "unionpay")  # three of four made it shop-wide
    assert out[0].value == 900.0 and out[0].baseline == 300.0  # counts add up over the channels


def test_one_channel_firing_with_one_other_on_the_way_is_not_the_whole_shop() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    scores = {("volume_spike", Scope("alipay")): 1.0, ("volume_spike", Scope("wechat")): 0.5}
    out: list[Alert] = []
    for i in range(5):
        out += _round(lifecycle, i, [("alipay", _verdict("volume_spike"))], scores)
    assert _rows(out) == [("volume_spike", "alipay", "firing")]  # after the wait for wechat


def test_an_incident_confined_to_one_channel_stays_a_channel_alert_without_waiting() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    scores = {("volume_spike", Scope(c)): 0.05 for c in FOUR}
    out = _round(lifecycle, 0, [("wechat", _verdict("volume_spike"))], scores)
    assert _rows(out) == [("volume_spike", "wechat", "firing")]


def test_two_of_four_channels_are_two_channel_alerts() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    scores = {("volume_drop", Scope(c)): 0.9 for c in ("alipay", "wechat")}
    out: list[Alert] = []
    for i in range(5):
        out += _round(
            lifecycle, i, [(c, _verdict("volume_drop", value=30.0)) for c in ("alipay", "wechat")], scores
        )
    assert sorted(_rows(out)) == [("volume_drop", "alipay", "firing"), ("volume_drop", "wechat", "firing")]


def test_a_shop_wide_alert_survives_a_restart_and_resolves_once() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=0)
    _round(lifecycle, 0, [(c, _verdict("complaint_spike")) for c in FOUR])
    restored = AlertLifecycle(group_wait_ms=0)
    restored.restore(orjson.loads(orjson.dumps(lifecycle.snapshot())))
    assert list(restored.shop_wide) == ["complaint_spike"]
    out = _round(restored, 1, [(c, _verdict("complaint_spike", firing=False, value=1.0)) for c in FOUR])
    assert _rows(out) == [("complaint_spike", "all channels", "resolved")]


def test_an_alert_whose_numbers_contradict_it_is_not_raised() -> None:
    lifecycle = AlertLifecycle()
    drop_above_normal = Verdict("success_rate_drop", 1.0, True, None, 0.903, 0.893, "cusum")
    rise_below_limit = Verdict("callback_latency_high", 1.0, True, None, 0.0, 30.0, "p95")
    assert not consistent(drop_above_normal) and not consistent(rise_below_limit)
    out = _round(lifecycle, 0, [("alipay", drop_above_normal), ("wechat", rise_below_limit)])
    assert out == [] and lifecycle.firing == {}


class _Part:
    """A detector part with a fixed verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.kind = verdict.kind

    def score(self, obs: Observation) -> Verdict:
        return self.verdict

    def assess(self, obs: Observation) -> tuple[float, bool]:
        return self.verdict.score, self.verdict.firing


def test_a_latency_alert_raised_by_the_late_share_shows_the_late_share() -> None:
    p95 = _Part(Verdict("callback_latency_high", 0.0, False, None, 0.0, 30.0, "p95 0.0 s"))
    late = _Part(Verdict("callback_latency_high", 1.0, True, None, 0.08, 0.01, "cusum 20 / 19"))
    both = AnyOf("callback_latency_high", {"p95": p95, "late share": late}, measure="p95")  # type: ignore[dict-item]
    verdict = both.score(Observation(Scope("alipay"), T0, T0 + W))
    assert (verdict.value, verdict.baseline, verdict.measure) == (0.08, 0.01, "late share")
    assert consistent(verdict)
    [alert] = _round(AlertLifecycle(), 0, [("alipay", verdict)])
    assert "share of late callbacks 8.0% vs normal 1.0%" in alert.summary


def test_channels_that_follow_an_all_payments_alert_are_part_of_its_incident() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    out: list[Alert] = []
    for i in range(4):  # all payments first, no channel explains it within the wait
        out += _round(lifecycle, i, [(None, _verdict("success_rate_drop", value=0.8, baseline=0.95))])
    for i in range(4, 10):  # then two channels cross their thresholds too
        rows = [
            (c, _verdict("success_rate_drop", value=0.8, baseline=0.95)) for c in (None, "alipay", "wechat")
        ]
        out += _round(lifecycle, i, rows)
    assert _rows(out) == [("success_rate_drop", "all channels", "firing")]
    for i in range(10, 12):  # the all-payments test recovers first; the channels still fire
        rows = [(None, _verdict("success_rate_drop", firing=False, value=0.95, baseline=0.95))]
        rows += [(c, _verdict("success_rate_drop", value=0.8, baseline=0.95)) for c in ("alipay", "wechat")]
        out += _round(lifecycle, i, rows)
    assert len(out) == 1  # held while a channel of its kind fires
    rows = [
        (c, _verdict("success_rate_drop", firing=False, value=0.95, baseline=0.95))
        for c in (None, "alipay", "wechat")
    ]
    out += _round(lifecycle, 12, rows)
    assert _rows(out)[1:] == [("success_rate_drop", "all channels", "resolved")]


def test_late_callbacks_after_their_stuck_payments_page_once() -> None:
    """In the first minutes a late callback and a lost one look the same: paid orders waiting. The
    stuck alert comes first; the late-callback alerts that follow on that channel, and on all
    payments, are the same incident. Another channel's late callbacks are their own."""
    lifecycle = AlertLifecycle(group_wait_ms=30_000)
    stuck, late = _verdict("stuck_payments"), _verdict("callback_latency_high", value=95.0, baseline=30.0)
    out = _round(lifecycle, 0, [("card", stuck)])
    for i in range(1, 6):
        out += _round(lifecycle, i, [("card", stuck), ("card", late), (None, late)])
    assert _rows(out) == [("stuck_payments", "card", "firing")]
    for i in range(6, 11):  # after a wait: card's late callbacks might have been spreading
        out += _round(lifecycle, i, [("card", stuck), ("card", late), (None, late), ("wechat", late)])
    assert _rows(out)[1:] == [("callback_latency_high", "wechat", "firing")]
