"""Alibaba Cloud's RPC request signature (Signature Version 1.0, HMAC-SHA1), as SMS and Voice expect it.

``dysmsapi.aliyuncs.com`` (``SendSms``) and ``dyvmsapi.aliyuncs.com`` (``SingleCallByTts``) are
RPC-style APIs: every parameter, the common ones included, is signed. The steps are the ones the
SMS documentation publishes ("Signature method",
https://www.alibabacloud.com/help/en/sms/signature-method):

1. "Arrange the request parameters (including common parameters and operation-specific parameters
   except Signature) in alphabetical order."
2. "Encode the canonicalized query string in UTF-8 based on RFC 3986": letters, digits, ``-``,
   ``_``, ``.`` and ``~`` stay as they are; every other byte is ``%XY`` in upper-case hex, and a
   space is ``%20``, never ``+`` (:func:`percent_encode`). Join ``name=value`` pairs with ``&``.
3. ``StringToSign = HTTPMethod + "&" + percentEncode("/") + "&" + percentEncode(CanonicalizedQueryString)``.
4. ``Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", UTF-8(StringToSign)))``: note the ``&``
   appended to the secret.

Alibaba's own core SDK does the same (``aliyun-python-sdk-core``,
``aliyunsdkcore/auth/composer/rpc_signature_composer.py``): it URL-encodes the sorted pairs,
replaces ``+`` by ``%20``, ``*`` by ``%2A`` and ``%7E`` by ``~``, builds
``method + "&%2F&" + canonicalized_query_string``, and signs with ``secret + '&'``. For a POST the
form body's parameters are signed together with the query's, so this module signs one dict.

Time and nonce are arguments: the plugins read them from the injected clock, and tests pin them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

__all__ = [
    "API_VERSION",
    "canonical_query",
    "common_parameters",
    "percent_encode",
    "sign",
    "signed_parameters",
    "string_to_sign",
]

#: The API version of both ``SendSms`` (Dysmsapi) and ``SingleCallByTts`` (Dyvmsapi).
API_VERSION: Final = "2017-05-25"
_UNRESERVED: Final = "-_.~"


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8, as Alibaba Cloud signs it: ``~`` kept, space ``%20``.

    >>> percent_encode("a b*c~d/é"), percent_encode('{"k":"告警"}')
    ('a%20b%2Ac~d%2F%C3%A9', '%7B%22k%22%3A%22%E5%91%8A%E8%AD%A6%22%7D')
    """
    return quote(value.encode(), safe=_UNRESERVED)


def canonical_query(parameters: Mapping[str, str]) -> str:
    """The parameters sorted by name, each name and value percent-encoded, joined with ``&``.

    >>> canonical_query({"b": "2 3", "A": "1"})
    'A=1&b=2%203'
    """
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(parameters.items()))


def string_to_sign(method: str, parameters: Mapping[str, str]) -> str:
    """``METHOD&%2F&percentEncode(canonical query)``.

    >>> string_to_sign("POST", {"Action": "SendSms", "PhoneNumbers": "13800000000"})
    'POST&%2F&Action%3DSendSms%26PhoneNumbers%3D13800000000'
    """
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(parameters))}"


def sign(method: str, parameters: Mapping[str, str], secret: str) -> str:
    """Base64 of HMAC-SHA1 over the string-to-sign, keyed by ``secret + "&"``.

    ``parameters`` must not hold ``Signature`` itself.

    The case below is the one in the core SDK's tests
    (``tests/auth/composer/test_rpc_signature_composer.py``, with its two mocked values as they land):

    >>> sign("GET", {"AccessKeyId": "access_key_id", "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
    ...              "SignatureNonce": "2018-12-04T04:03:12Z", "SignatureType": "", "SignatureVersion": "1.0",
    ...              "Timestamp": "7e1c7d12-7551-4856-8abb-1938ccac6bcc"}, "access_key_secret")
    '5AYPtZduFYvj3ETTIQlivGqL7Ic='
    """
    if "Signature" in parameters:
        raise ValueError("the Signature parameter is not signed; leave it out")
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, parameters).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def common_parameters(access_key_id: str, action: str, region: str, now: float, nonce: str) -> dict[str, str]:
    """The common request parameters of an RPC call at wall time ``now`` (seconds since the epoch).

    >>> common_parameters("testId", "SendSms", "cn-hangzhou", 1499827339.0, "n-1")["Timestamp"]
    '2017-07-12T02:42:19Z'
    """
    return {
        "AccessKeyId": access_key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": API_VERSION,
    }


def signed_parameters(method: str, parameters: Mapping[str, str], secret: str) -> dict[str, str]:
    """``parameters`` with their ``Signature`` added: what goes in the query or the form body."""
    return {**parameters, "Signature": sign(method, parameters, secret)}
