"""The rejection log: one line per refused input, written in its own transaction."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from .models import Rejection

log = logging.getLogger(__name__)

_INSERT_REJECTION: Final = insert(Rejection)
_MAX_MESSAGE: Final = 500


async def record_rejection(
    writes: async_sessionmaker[AsyncSession],
    *,
    at: datetime,
    code: str,
    http_status: int,
    channel: str,
    message: str,
    caller: str | None = None,
    sender: str | None = None,
    size: int | None = None,
) -> None:
    """Write one line of the rejection log in its own transaction (never raises)."""
    try:
        async with writes() as session:
            await session.exec(
                _INSERT_REJECTION,
                params={
                    "at": at,
                    "code": code,
                    "http_status": http_status,
                    "channel": channel,
                    "caller": caller,
                    "sender": sender,
                    "size": size,
                    "message": message[:_MAX_MESSAGE],
                },
            )
            await session.commit()
    except Exception:
        # The refusal itself must still reach the caller: a lost log line is the lesser harm.
        log.exception("could not log a rejection (%s)", code)
