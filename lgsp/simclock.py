"""A hub on simulated time: its clock from ``sim.json``, and what a fast clock changes.

Durations a hub measures on its clock (token lifetime, the accepted age of a hub request,
outbox backoff and leases, the SDK replay window) are meant in real seconds of operation:
with a clock running ``rate`` times faster they are scaled by ``rate``, or a token would
expire before it is used. CRLs live 30 simulated days, a few real seconds of a compressed
year: a hub on a fast clock re-publishes them ahead of time (`CrlKeeper`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Final

from keys import KeyStore
from lgsp.settings import HubSettings
from simtime import Clock, clock_for_data_dir, rate_of

log = logging.getLogger(__name__)

_LEASE: Final = timedelta(seconds=60)
# Re-published CRLs stay good this many real seconds ahead, whatever the rate.
_CRL_AHEAD_REAL_SECONDS: Final = 10.0
_CRL_CHECK_SECONDS: Final = 1.0


def hub_clock(settings: HubSettings) -> Clock:
    """The hub's clock: ``sim.json``'s shared simulated clock if it has one, else wall time."""
    return clock_for_data_dir(settings.data_dir)


def for_clock(settings: HubSettings, clock: Clock) -> HubSettings:
    """``settings`` with their durations scaled to the clock's rate (unchanged at rate 1)."""
    rate = rate_of(clock)
    if rate == 1.0:
        return settings
    return settings.model_copy(
        update={
            "token_ttl": max(1, round(settings.token_ttl * rate)),
            "hub_clock_skew": settings.hub_clock_skew * rate,
            "sdk_window": settings.sdk_window * rate,
            "outbox_retry_base": settings.outbox_retry_base * rate,
            "outbox_retry_cap": settings.outbox_retry_cap * rate,
        }
    )


def outbox_lease(clock: Clock) -> timedelta:
    """How long a worker holds an outbox row, on the hub clock (one real minute)."""
    return _LEASE * rate_of(clock)


class CrlKeeper:
    """Re-publishes the CA's CRLs ahead of a fast simulated clock (no-op at rate <= 1)."""

    def __init__(self, keystore: KeyStore, clock: Clock) -> None:
        self._keystore = keystore
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def needed(self) -> bool:
        """Whether the clock runs fast enough for CRLs to expire during a run."""
        return rate_of(self._clock) > 1.0

    def start(self) -> None:
        """Start refreshing in the background when the clock runs fast."""
        if self.needed and self._task is None:
            self._task = asyncio.create_task(self._run(), name="crl-keeper")

    async def stop(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def refresh_once(self) -> None:
        """Re-publish every CRL that would expire within the look-ahead (blocking)."""
        ahead = timedelta(days=1) + timedelta(
            seconds=_CRL_AHEAD_REAL_SECONDS * rate_of(self._clock)
        )
        # The store re-publishes CRLs within a day of ``at``: asking at now + ahead keeps a
        # CRL good for ``ahead`` more; nothing checks thisUpdate against the time of use.
        self._keystore.refresh_crls(at=self._clock.now() + min(ahead, timedelta(days=25)))

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh_once)
            except Exception:
                log.exception("could not re-publish the CRLs")
            await asyncio.sleep(_CRL_CHECK_SECONDS)
