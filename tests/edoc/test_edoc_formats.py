"""Dates yyyy/MM/dd and timestamps yyyy/MM/dd HH:mm:ss in Vietnam time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import edoc
from simtime import VIETNAM_TZ


def test_dates() -> None:
    assert edoc.format_date(date(2015, 9, 3)) == "2015/09/03"
    assert edoc.parse_date("2015/09/03") == date(2015, 9, 3)
    assert edoc.parse_date(" 2015/09/03 ") == date(2015, 9, 3)


@pytest.mark.parametrize("text", ["2015-09-03", "03/09/2015", "2015/9/3", "2015/02/30", "", "x"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(edoc.FieldFormatError) as caught:
        edoc.parse_date(text)
    assert caught.value.code == "bad_date"


def test_timestamps_are_vietnam_local_time() -> None:
    moment = datetime(2024, 12, 31, 20, 15, 5, tzinfo=UTC)
    assert edoc.format_timestamp(moment) == "2025/01/01 03:15:05"
    other_zone = moment.astimezone(timezone(timedelta(hours=-5)))
    assert edoc.format_timestamp(other_zone) == "2025/01/01 03:15:05"
    parsed = edoc.parse_timestamp("2025/01/01 03:15:05")
    assert parsed == moment
    assert parsed.tzinfo == VIETNAM_TZ
    assert edoc.vietnam_date(moment) == date(2025, 1, 1)


@pytest.mark.parametrize(
    "text", ["2025/01/01", "2025/01/01T03:15:05", "2025/01/01 25:00:00", "2025-01-01 03:15:05"]
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(edoc.FieldFormatError) as caught:
        edoc.parse_timestamp(text)
    assert caught.value.code == "bad_timestamp"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        edoc.format_timestamp(datetime(2025, 1, 1))  # naive on purpose


def test_status_code_table() -> None:
    assert [c.value for c in edoc.StatusCode] == [
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "13",
        "15",
        "16",
    ]
    assert edoc.StatusCode.parse("3") is edoc.StatusCode.ACCEPTED
    assert edoc.StatusCode.parse(" 13 ") is edoc.StatusCode.RECALL_REQUESTED
    assert edoc.StatusCode.REJECTED.meaning_vi == "từ chối tiếp nhận"
    for code in edoc.StatusCode:
        assert code.meaning_en and code.meaning_vi
    with pytest.raises(edoc.FieldFormatError) as caught:
        edoc.StatusCode.parse("07")
    assert caught.value.code == "bad_status_code"


def test_business_types() -> None:
    assert [int(t) for t in edoc.BusinessDocType] == [0, 1, 2, 3]
    assert edoc.BusinessDocType(3).meaning_en == "replacement"
    assert edoc.BusinessDocType.REVOCATION.meaning_vi == "thu hồi văn bản"


def test_errors_carry_code_and_message_and_pickle() -> None:
    import pickle

    error = edoc.AttachmentError("attachment_base64", "not base64")
    assert (error.code, error.message) == ("attachment_base64", "not base64")
    assert str(error) == "attachment_base64: not base64"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is edoc.AttachmentError
    assert (copy.code, copy.message) == (error.code, error.message)
