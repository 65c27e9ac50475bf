"""A hub on a fast simulated clock: durations scale with the rate, CRLs are kept ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from keys import KeyStore
from lgsp.settings import HubSettings
from lgsp.simclock import CrlKeeper, for_clock, outbox_lease
from simtime import SharedClock, WallClock

START = datetime(2022, 1, 1, tzinfo=UTC)


def test_durations_scale_with_the_rate(tmp_path: Path) -> None:
    settings = HubSettings(hub_id="lgsp-h56", data_dir=tmp_path)
    assert for_clock(settings, WallClock()) is settings
    fast = for_clock(settings, SharedClock(START, rate=1000.0))
    assert fast.token_ttl == settings.token_ttl * 1000
    assert fast.hub_clock_skew == settings.hub_clock_skew * 1000
    assert fast.outbox_retry_base == settings.outbox_retry_base * 1000
    assert fast.outbox_retry_cap == settings.outbox_retry_cap * 1000
    assert fast.hub_id == settings.hub_id and fast.max_body_bytes == settings.max_body_bytes
    assert outbox_lease(SharedClock(START, rate=10.0)) == timedelta(minutes=10)


def test_crls_are_republished_ahead_of_a_fast_clock(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.init(at=START)
    # A year later in simulated time the CRLs published at START have long expired.
    clock = SharedClock(START + timedelta(days=365), rate=100_000.0)
    keeper = CrlKeeper(store, clock)
    assert keeper.needed and not CrlKeeper(store, WallClock()).needed
    keeper.refresh_once()
    for path in store.crl_paths():
        crl = x509.load_pem_x509_crl(path.read_bytes())
        assert crl.next_update_utc is not None
        # Good for more than the real seconds it takes hubs to read it again.
        assert crl.next_update_utc - clock.now() > timedelta(days=20)
