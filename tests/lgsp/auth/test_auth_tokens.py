"""Bearer tokens: issued, verified, expiring on the hub clock, bound to their hub."""

from __future__ import annotations

import pytest
from hubkit import MovableClock

from lgsp.auth import AuthError, TokenService


def service(
    clock: MovableClock, *, key: bytes = b"k" * 32, hub_id: str = "lgsp-h56"
) -> TokenService:
    return TokenService(key=key, hub_id=hub_id, ttl=60, clock=clock)


def test_a_token_names_its_system(hub_clock: MovableClock) -> None:
    tokens = service(hub_clock)
    issued = tokens.issue("fleet-h56")
    assert issued.expires_in == 60
    assert tokens.verify(issued.access_token) == "fleet-h56"
    assert tokens.verify(issued.access_token) == "fleet-h56"  # cached the second time


def test_it_expires(hub_clock: MovableClock) -> None:
    tokens = service(hub_clock)
    token = tokens.issue("fleet-h56").access_token
    tokens.verify(token)
    hub_clock.advance(seconds=61)
    with pytest.raises(AuthError) as caught:
        tokens.verify(token)
    assert caught.value.code == "token_expired"
    fresh = service(hub_clock)  # not cached there
    with pytest.raises(AuthError) as caught:
        fresh.verify(token)
    assert caught.value.code == "token_expired"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # MAC changed
        lambda t: "v2" + t[2:],
        lambda t: t.replace(".", "", 1),
        lambda t: "",
        lambda t: "v1.!!!.???",
        lambda t: t + "=",
    ],
)
def test_anything_altered_is_invalid(hub_clock: MovableClock, mangle) -> None:  # type: ignore[no-untyped-def]
    tokens = service(hub_clock)
    token = tokens.issue("fleet-h56").access_token
    with pytest.raises(AuthError) as caught:
        tokens.verify(mangle(token))
    assert caught.value.code == "invalid_token"
    assert caught.value.http_status == 401


def test_other_keys_and_other_hubs_do_not_verify(hub_clock: MovableClock) -> None:
    token = service(hub_clock).issue("fleet-h56").access_token
    with pytest.raises(AuthError):
        service(hub_clock, key=b"x" * 32).verify(token)
    with pytest.raises(AuthError):
        service(hub_clock, hub_id="lgsp-h04").verify(token)
