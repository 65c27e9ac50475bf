"""Shared data and helpers of the fleet tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from agencies_fakehub import FakeHub

from agencies import NativeHubClient, Profile
from agencies.profile import StatusStep
from edoc import StatusCode

FLEET_ID = "fleet-h56"
HUB_ID = "lgsp-h56"
SECRET = "s3cret-for-tests"
UBND = "000.00.00.H56"  # Ủy ban nhân dân tỉnh Thanh Hóa
TINH_UY = "000.00.01.H56"  # Tỉnh ủy Thanh Hóa
SO_NOI_VU = "000.00.03.H56"  # Sở Nội vụ tỉnh Thanh Hóa
HUB_URL = "http://fake-hub"

# Every status of the demo sequence, with delays short enough for tests.
FAST = Profile(
    name="fast",
    poll_interval=0.02,
    steps=(
        StatusStep(code=StatusCode.ARRIVED),
        StatusStep(code=StatusCode.ACCEPTED, after=0.01),
        StatusStep(code=StatusCode.ASSIGNED, after=0.01),
        StatusStep(code=StatusCode.PROCESSING, after=0.01),
        StatusStep(code=StatusCode.COMPLETED, after=0.02),
    ),
    seed=7,
)


def client_of(hub: FakeHub) -> NativeHubClient:
    return NativeHubClient(
        system_id=FLEET_ID,
        secret=SECRET,
        base_url=HUB_URL,
        transport=httpx.ASGITransport(app=hub.app),
    )


async def eventually(check: Callable[[], bool], *, within: float = 10.0) -> None:
    """Wait (without blocking the loop) until ``check()`` holds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
