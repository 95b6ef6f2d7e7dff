"""Tencent Cloud's API 3.0 request signature, TC3-HMAC-SHA256, as SMS (``SendSms``) expects it.

The steps are the ones Tencent publishes in "Signature v3", the page every API 3.0 product's
documentation carries (SMS's among them), here for a POST with a JSON body:

1. ``CanonicalRequest = "POST\\n/\\n\\n" + CanonicalHeaders + "\\n" + SignedHeaders + "\\n" +
   Lowercase(HexEncode(SHA256(payload)))``, where ``CanonicalHeaders`` is
   ``content-type:<type>\\nhost:<host>\\n`` and ``SignedHeaders`` is ``content-type;host``
   (:func:`canonical_request`); the query string of a POST is empty.
2. ``StringToSign = "TC3-HMAC-SHA256\\n" + timestamp + "\\n" + date + "/" + service + "/tc3_request\\n"
   + Lowercase(HexEncode(SHA256(CanonicalRequest)))``, the date being the UTC date of the
   timestamp: a Beijing clock fails between midnight and 08:00 (:func:`string_to_sign`).
3. The key is derived: ``HMAC_SHA256("TC3" + SecretKey, date)``, then with ``service``, then
   with ``"tc3_request"``; ``Signature = HexEncode(HMAC_SHA256(key, StringToSign))`` (:func:`sign`).
4. ``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
   SignedHeaders=content-type;host, Signature=<signature>`` (:func:`authorization`).

Tencent's SDK does the same (``tencentcloud-sdk-python``, ``tencentcloud/common/sign.py``
``Sign.sign_tc3`` and ``abstract_client.py`` ``_get_tc3_signature``). Time is an argument: the
plugin reads it from the injected clock, and the tests pin it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Final

__all__ = ["ALGORITHM", "JSON", "authorization", "canonical_request", "sign", "string_to_sign"]

ALGORITHM: Final = "TC3-HMAC-SHA256"
#: The content type PayPulse posts, and signs.
JSON: Final = "application/json; charset=utf-8"
_SIGNED_HEADERS: Final = "content-type;host"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_request(host: str, payload: str, content_type: str = JSON) -> str:
    """Step 1 for a POST to ``/``: method, URI, empty query, the two signed headers, the body's hash.

    >>> canonical_request("Sms.TencentCloudAPI.com", "{}").splitlines()[:7]
    ['POST', '/', '', 'content-type:application/json; charset=utf-8', 'host:sms.tencentcloudapi.com', '', \
'content-type;host']
    """
    headers = f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"
    return f"POST\n/\n\n{headers}\n{_SIGNED_HEADERS}\n{_sha256(payload)}"


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    """Step 2: the algorithm, the timestamp, the credential scope (UTC date), the request's hash."""
    return f"{ALGORITHM}\n{timestamp}\n{_date(timestamp)}/{service}/tc3_request\n{_sha256(canonical)}"


def sign(secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    """Step 3: the hex signature, with the key derived from the secret, the date and the service.

    The published example (Signature v3, "Calculating the signature": CVM ``DescribeInstances``
    at 1551113065 with the documentation's example key) gives the published signature:

    >>> name = '"\\\\u672a\\\\u547d\\\\u540d"'
    >>> payload = '{"Limit": 1, "Filters": [{"Values": [' + name + '], "Name": "instance-name"}]}'
    >>> canonical = canonical_request("cvm.tencentcloudapi.com", payload)
    >>> string_to_sign(1551113065, "cvm", canonical).splitlines()[2:]
    ['2019-02-25/cvm/tc3_request', '5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031']
    >>> sign("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", canonical)
    '72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168'
    """
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), _date(timestamp)), service), "tc3_request")
    return hmac.new(key, string_to_sign(timestamp, service, canonical).encode(), hashlib.sha256).hexdigest()


def authorization(
    secret_id: str, secret_key: str, timestamp: int, service: str, host: str, payload: str
) -> str:
    """Step 4: the ``Authorization`` header of a JSON POST of ``payload`` to ``host`` at ``timestamp``."""
    signature = sign(secret_key, timestamp, service, canonical_request(host, payload))
    scope = f"{_date(timestamp)}/{service}/tc3_request"
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={_SIGNED_HEADERS}, Signature={signature}"
    )
