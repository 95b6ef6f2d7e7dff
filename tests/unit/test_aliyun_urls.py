"""Aliyun URLs and replies, as tables: URL -> plugin or a readable error; reply -> delivered/retry/park.

Like Apprise's own plugin tests, one row per URL with what it must give, and the privacy URL that
logs and metrics show. No network: the plugins only parse here.
"""

from __future__ import annotations

import pytest

from alerting.delivery.aliyun import AliyunSms, AliyunVoice, read_reply
from alerting.delivery.aliyun import build_aliyun as build
from alerting.delivery.apprise_notifier import AppriseNotifier
from alerting.delivery.cloud import CloudUrlError
from alerting.delivery.pacing import Throttled
from alerting.delivery.tencent import TencentSms, build_tencent
from alerting.routing import language_for, zone_for
from kernel.errors import ConfigError

AK, SK = "LTAI5tExampleKeyId", "s3cr3tS3cr3tS3cr3t"


@pytest.mark.parametrize(
    ("url", "cls", "privacy"),
    [
        (
            f"aliyunsms://{AK}:{SK}@PayPulse/SMS_123456789/13800000000/13900000000?region=cn-hangzhou",
            AliyunSms,
            "aliyunsms://L...d:****@PayPulse/SMS_123456789/13800000000/13900000000/?region=cn-hangzhou"
            "&sign=PayPulse&fixed=12",
        ),
        (  # a Chinese sign name, percent-encoded, a +86 number, another region
            f"aliyunsms://{AK}:{SK}@%E6%94%AF%E4%BB%98%E7%9B%91%E6%8E%A7/SMS_1/+8613800000000?region=cn-shanghai&fixed=20",
            AliyunSms,
            "aliyunsms://L...d:****@%E6%94%AF%E4%BB%98%E7%9B%91%E6%8E%A7/SMS_1/13800000000/?region=cn-shanghai"
            "&sign=%E6%94%AF%E4%BB%98%E7%9B%91%E6%8E%A7&fixed=20",
        ),
        (
            f"aliyunsms://{AK}:{SK}@x/SMS_1/13800000000?sign=%E6%94%AF%E4%BB%98",
            AliyunSms,
            "aliyunsms://L...d:****@%E6%94%AF%E4%BB%98/SMS_1/13800000000/?region=cn-hangzhou"
            "&sign=%E6%94%AF%E4%BB%98&fixed=12",
        ),
        (
            f"aliyunvoice://{AK}:{SK}@TTS_123/13800000000/13900000000?show=057100000000&play_times=3",
            AliyunVoice,
            "aliyunvoice://L...d:****@TTS_123/13800000000/13900000000/?region=cn-hangzhou&play_times=3"
            "&show=057100000000",
        ),
    ],
)
def test_url_builds_its_plugin_and_masks_secrets(url: str, cls: type, privacy: str) -> None:
    plugin = build(url)
    assert type(plugin) is cls
    shown = plugin.url(privacy=True)
    assert shown.startswith(privacy) and SK not in shown and AK not in shown
    assert type(build(plugin.url())) is cls  # its own URL parses back


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (f"aliyunsms://{AK}@PayPulse/SMS_1/13800000000", "needs AccessKeyId:AccessKeySecret@"),
        (f"aliyunsms://{AK}:{SK}@/SMS_1/13800000000", "needs the sign name"),
        (f"aliyunsms://{AK}:{SK}@PayPulse/13800000000", "needs a template code like SMS_123456789"),
        (f"aliyunsms://{AK}:{SK}@PayPulse/SMS_1/", "names no phone number"),
        (f"aliyunsms://{AK}:{SK}@PayPulse/SMS_1/1380000abcd", "'1380000abcd': not a phone number"),
        (f"aliyunsms://{AK}:{SK}@PayPulse/SMS_1/13800000000?fixed=many", "?fixed= must be a whole number"),
        (f"aliyunsms://{AK}:{SK}@PayPulse/SMS_1/13800000000?region=cn_hangzhou!", "not a region id"),
        (f"aliyunvoice://{AK}:{SK}@SMS_1/13800000000", "needs a TTS template code like TTS_123456789"),
        (f"aliyunvoice://{AK}:{SK}@TTS_1/13800000000?play_times=5", "?play_times= must be from 1 to 3"),
        (f"aliyunvoice://{AK}:{SK}@TTS_1/13800000000?show=abc", "?show= must be a phone number"),
        ("aliyunfax://x", "is not one of aliyunsms://, aliyunvoice://"),
    ],
)
def test_malformed_url_is_refused_with_a_readable_reason(url: str, error: str) -> None:
    with pytest.raises(CloudUrlError, match=error.replace("?", r"\?")) as err:
        build(url)
    assert SK not in str(err.value)


def test_notifier_names_the_route_and_masks_the_url_of_a_bad_aliyun_url() -> None:
    with pytest.raises(ConfigError) as err:
        AppriseNotifier(f"aliyunsms://{AK}:{SK}@PayPulse/TPL_1/13800000000", route="oncall-sms")
    assert str(err.value) == (
        "route 'oncall-sms': aliyunsms://L...d:s...t@P...e/T...1/1...0: aliyunsms:// needs a template code "
        "like SMS_123456789 after the sign name, got 'TPL_1'"
    )
    assert SK not in str(err.value)


def test_aliyun_targets_read_chinese_in_beijing_time() -> None:
    sms, voice = f"aliyunsms://{AK}:{SK}@P/SMS_1/138", f"aliyunvoice://{AK}:{SK}@TTS_1/138"
    assert [language_for(sms), language_for(voice)] == ["zh-CN", "zh-CN"]
    assert [zone_for(sms), zone_for(voice)] == ["Asia/Shanghai", "Asia/Shanghai"]


@pytest.mark.parametrize(
    ("status", "body", "ok", "retryable", "throttled", "detail"),
    [
        (200, b'{"Code":"OK","Message":"OK","BizId":"1^0","RequestId":"r"}', True, False, False, "delivered"),
        (200, b'{"Code":"OK","Message":"OK","CallId":"1^2"}', True, False, False, "delivered"),
        (200, b'{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"limit"}', False, True, True, "LIMIT_CONTROL"),
        (200, b'{"Code":"isv.DAY_LIMIT_CONTROL","Message":"day"}', False, True, True, "DAY_LIMIT"),
        (400, b'{"Code":"Throttling.User","Message":"Request was denied"}', False, True, True, "Throttling"),
        (400, b'{"Code":"SignatureDoesNotMatch","Message":"bad sign"}', False, False, False, "bad sign"),
        (404, b'{"Code":"InvalidAccessKeyId.NotFound","Message":"no key"}', False, False, False, "no key"),
        (200, b'{"Code":"isv.SMS_SIGNATURE_ILLEGAL","Message":"sign"}', False, False, False, "SIGNATURE"),
        (200, b'{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"tpl"}', False, False, False, "TEMPLATE"),
        (200, b'{"Code":"isv.SOMETHING_NEW","Message":"ours"}', False, False, False, "SOMETHING_NEW"),
        (200, b'{"Code":"isp.SYSTEM_ERROR","Message":"busy"}', False, True, False, "will retry"),
        (503, b"<html>gateway</html>", False, True, False, "HTTP 503 without a Code"),
        (403, b"<html>denied</html>", False, False, False, "HTTP 403 without a Code"),
        (200, b'{"Code":"OK\\u202e\\n","Message":"x"}', False, True, False, "will retry"),
    ],
)
def test_reply_decides_delivered_retry_or_park(
    status: int, body: bytes, ok: bool, retryable: bool, throttled: bool, detail: str
) -> None:
    result = read_reply("aliyunsms", status, body)
    assert (result.ok, result.retryable, isinstance(result, Throttled)) == (ok, retryable, throttled)
    assert detail in result.detail
    assert "\n" not in result.detail and "\u202e" not in result.detail


# -- Tencent Cloud SMS: the same frame ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("tencentsms://AKIDx@1400006666/2061234/13800000000?sign=P", "needs SecretId:SecretKey@"),
        ("tencentsms://AKIDx:s@app/2061234/13800000000?sign=P", "needs the SmsSdkAppId like 1400006666"),
        ("tencentsms://AKIDx:s@1400006666/SMS_1/13800000000?sign=P", "needs a template id like 1234567"),
        ("tencentsms://AKIDx:s@1400006666/2061234/13800000000", "needs the approved sign name"),
        ("tencentsms://AKIDx:s@1400006666/2061234/?sign=P", "names no phone number"),
        ("tencentsms://AKIDx:s@1400006666/2061234/13800000000?sign=P&region=ap_gz!", "not a region id"),
    ],
)
def test_malformed_tencent_url_is_refused_with_a_readable_reason(url: str, error: str) -> None:
    with pytest.raises(CloudUrlError, match=error):
        build_tencent(url)


def test_tencent_url_masks_its_secret_and_parses_back_and_reads_chinese() -> None:
    url = (
        f"tencentsms://AKIDx:{SK}@1400006666/2061234/+8613800000000?sign=%E6%94%AF%E4%BB%98&region=ap-beijing"
    )
    plugin = build_tencent(url)
    assert plugin.url(privacy=True).startswith(
        "tencentsms://A...x:****@1400006666/2061234/13800000000/?region=ap-beijing&sign=%E6%94%AF%E4%BB%98"
    )
    assert type(build_tencent(plugin.url())) is TencentSms and SK not in plugin.url(privacy=True)
    assert (language_for(url), zone_for(url)) == ("zh-CN", "Asia/Shanghai")
