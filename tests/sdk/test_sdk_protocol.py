"""The pure functions of the wire protocol (lgsp/sdk/protocol.py), checked against the facts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from vxp_client import VxpClient, java_hex

from lgsp.sdk import ErrorCode, SdkError
from lgsp.sdk import protocol as p


def raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers]


def test_timestamp_format_of_the_sdk() -> None:
    assert p.parse_timestamp("22112026T033447+0462") == datetime(2026, 11, 22, 3, 34, 47, 462000)
    assert p.format_timestamp(datetime(2026, 11, 22, 3, 34, 47, 462000)) == "22112026T033447+0462"
    for bad in (
        "2026-11-22T03:34:47",
        "22112026T033447",
        "32132026T033447+0462",
        "22112026T033447+9999",
    ):
        with pytest.raises(SdkError) as caught:
            p.parse_timestamp(bad)
        assert caught.value.error_code is ErrorCode.BAD_TIMESTAMP
    # Local Vietnam time, 03:34:47 → 20:34:47 UTC the day before.
    now = datetime(2026, 11, 21, 20, 34, 47, 462000, tzinfo=UTC)
    assert p.timestamp_age("22112026T033447+0462", now=now, utc_offset_minutes=420) == 0


def test_hash_file_is_java_hex() -> None:
    body = b"edXML"
    digest = hashlib.sha256(body).digest()
    expected = "".join(hex(b)[2:] for b in digest)  # Integer.toHexString(b & 0xff)
    assert p.hash_file(body) == expected == java_hex(body)
    assert p.hash_file_matches(body, expected)
    assert p.java_hex(bytes([0, 1, 15, 16, 255])) == "01f10ff"
    padded = hashlib.sha256(body).hexdigest()
    assert p.hash_file_matches(body, padded) == (padded == expected)


def test_to_is_a_json_array_in_a_string() -> None:
    assert p.parse_to('["000.00.00.H56", "000.00.01.H56", "000.00.00.H56"]') == [
        "000.00.00.H56",
        "000.00.01.H56",
    ]
    for bad in ("000.00.00.H56", "[1]", '{"a": 1}', "[]x"):
        with pytest.raises(SdkError):
            p.parse_to(bad)


def test_signed_request_read_from_any_key_order() -> None:
    client = VxpClient(None, system_id="sys", secret="bí mật", seed=7)  # type: ignore[arg-type]
    prepared = client.prepare("POST", "/getEdoc", {"docId": "abc"})
    request = p.read_signed_request(raw(prepared.headers))
    assert request.system_id == "sys" and request.param("DOCID") == "abc"
    assert request.param("content-type") == "application/json"
    assert p.signature_matches(request, "bí mật")
    assert not p.signature_matches(request, "bi mat")
    signed = json.loads(dict(prepared.headers)["XroadVnpt-sign-header"])
    assert list(signed) != sorted(signed) or len(signed) < 3  # shuffled like a HashMap


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"XroadVnpt-sign-header": None}, ErrorCode.MISSING_AUTH),
        ({"XroadVnpt-hash-header": None}, ErrorCode.MISSING_AUTH),
        ({"XroadVnpt-docId": "other"}, ErrorCode.SIGNED_HEADERS_MISMATCH),
        ({"XroadVnpt-docId": None}, ErrorCode.SIGNED_HEADERS_MISMATCH),
        ({"XroadVnpt-sign-header": "[1, 2]"}, ErrorCode.SIGNED_HEADERS_MISMATCH),
        ({"XroadVnpt-sign-header": "{not json"}, ErrorCode.SIGNED_HEADERS_MISMATCH),
        ({"XroadVnpt-sign-header-key": "docId;level"}, ErrorCode.SIGNED_HEADERS_MISMATCH),
    ],
)
def test_inconsistent_signed_sets(change: dict[str, str | None], code: ErrorCode) -> None:
    client = VxpClient(None, system_id="sys", secret="s")  # type: ignore[arg-type]
    headers = client.prepare("POST", "/getEdoc", {"docId": "abc"}).headers
    for name, value in change.items():
        headers = [(k, v) for k, v in headers if k != name]
        if value is not None:
            headers.append((name, value))
    with pytest.raises(SdkError) as caught:
        p.read_signed_request(raw(headers))
    assert caught.value.error_code is code


def test_an_unsigned_parameter_header_is_ignored() -> None:
    client = VxpClient(None, system_id="sys", secret="s")  # type: ignore[arg-type]
    headers = client.prepare("POST", "/getEdoc", {"docId": "abc"}).headers
    request = p.read_signed_request(raw([*headers, ("XroadVnpt-from", "000.00.00.H56")]))
    assert request.param("from") is None


def test_answers_carry_the_common_fields() -> None:
    assert p.answer({"DocId": "x"}) == {
        "status": "OK",
        "ErrorCode": "0",
        "ErrorDesc": "",
        "DocId": "x",
    }
    error = SdkError(ErrorCode.UNKNOWN_DOC, "unknown_doc", "no package 'x'")
    assert p.failure(error, {"data": ""}) == {
        "status": "FAIL",
        "ErrorCode": "401",
        "ErrorDesc": "unknown_doc: no package 'x'",
        "data": "",
    }


def test_peek_header() -> None:
    assert p.peek_header(b"<not xml") is None
    assert p.peek_header(b"<a/>") is None
