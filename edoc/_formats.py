"""Date and time formats of QCVN 102:2016: ``yyyy/MM/dd`` and ``yyyy/MM/dd HH:mm:ss``.

Timestamps in packages are Vietnam local time (giờ Việt Nam, UTC+7) without an offset;
in memory they are aware datetimes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from simtime import VIETNAM_TZ

from ._errors import FieldFormatError

_DATE_RE = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})")
_TIMESTAMP_RE = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")


def format_date(value: date) -> str:
    """Format a date as ``yyyy/MM/dd``."""
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ``yyyy/MM/dd HH:mm:ss`` in Vietnam local time."""
    local = _to_vietnam(moment)
    return f"{format_date(local)} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def vietnam_date(moment: datetime) -> date:
    """Return the calendar date in Vietnam at an aware instant."""
    return _to_vietnam(moment).date()


def due_end(due_date: date) -> datetime:
    """The instant a document is due by: the end of its DueDate (a Vietnamese calendar day).

    The fleets plan processing against it and the hubs' statistics judge "on time" by it.
    """
    return datetime.combine(due_date + timedelta(days=1), time(), tzinfo=VIETNAM_TZ).astimezone(UTC)


def parse_date(text: str) -> date:
    """Parse ``yyyy/MM/dd``; raise FieldFormatError ``bad_date`` otherwise."""
    match = _DATE_RE.fullmatch(text.strip())
    if match is None:
        raise FieldFormatError("bad_date", f"{text!r} is not a date in the form yyyy/MM/dd")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise FieldFormatError("bad_date", f"{text!r} is not a calendar date ({exc})") from None


def parse_timestamp(text: str) -> datetime:
    """Parse ``yyyy/MM/dd HH:mm:ss`` (Vietnam time) into an aware datetime."""
    match = _TIMESTAMP_RE.fullmatch(text.strip())
    if match is None:
        raise FieldFormatError(
            "bad_timestamp", f"{text!r} is not a timestamp in the form yyyy/MM/dd HH:mm:ss"
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=VIETNAM_TZ)
    except ValueError as exc:
        raise FieldFormatError("bad_timestamp", f"{text!r} is not a valid moment ({exc})") from None


def _to_vietnam(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time is ambiguous (UTC? Vietnam?): refuse rather than guess.
        raise ValueError("timestamps must be timezone-aware datetimes")
    return moment.astimezone(VIETNAM_TZ)
