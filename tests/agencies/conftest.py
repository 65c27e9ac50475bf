"""Fleet fixtures: a data directory (key store, small topology, systems.json) made once per
session, a fresh fake hub per test, and a fleet wired to it in-process (httpx.ASGITransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from agencies_fakehub import FakeHub
from agencies_support import FAST, FLEET_ID, HUB_ID, HUB_URL, SECRET, client_of

from agencies import Fleet, FleetConfig, Profile, read_config
from keys import KeyStore, TrustStore
from sim.topology import load_topology
from simtime import WallClock


@pytest.fixture(scope="session")
def now() -> datetime:
    return WallClock().now()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> Path:
    """DIR as `lgsp-sim up` leaves it for fleet-h56: keys, sim.json, systems.json, services.json."""
    directory = tmp_path_factory.mktemp("lgsp-data")
    KeyStore(directory / "keys").init(at=now)
    (directory / "sim.json").write_text(json.dumps({"topology": "small", "created": str(now)}))
    topology = load_topology("small")
    systems = [
        {
            "system_id": FLEET_ID,
            "secret": SECRET,
            "hub_id": HUB_ID,
            "agencies": [a.organ_id for a in topology.agencies_of(HUB_ID)],
        },
        {"system_id": "fleet-ndxp", "secret": "other", "hub_id": "ndxp", "agencies": []},
    ]
    (directory / "systems.json").write_text(json.dumps(systems))
    (directory / "services.json").write_text(json.dumps({HUB_ID: HUB_URL}))
    return directory


@pytest.fixture(scope="session")
def keystore(data_dir: Path) -> KeyStore:
    return KeyStore(data_dir / "keys")


@pytest.fixture(scope="session")
def trust(keystore: KeyStore, now: datetime) -> TrustStore:
    return keystore.trust_store(at=now)


@pytest.fixture(scope="session")
def config(data_dir: Path) -> FleetConfig:
    return read_config(FLEET_ID, data_dir)


@pytest.fixture
def hub(config: FleetConfig, trust: TrustStore) -> FakeHub:
    """A fake hub that verifies envelopes like the real one."""
    return FakeHub(systems={FLEET_ID: (SECRET, frozenset(config.agencies))}, trust=trust)


@pytest.fixture
async def make_fleet(
    config: FleetConfig, keystore: KeyStore
) -> AsyncIterator[Callable[..., Awaitable[Fleet]]]:
    """Build fleets wired to a fake hub; they are closed at the end of the test."""
    fleets: list[Fleet] = []

    async def make(hub: FakeHub, profile: Profile = FAST) -> Fleet:
        fleet = Fleet(
            config, hub=client_of(hub), clock=WallClock(), profile=profile, keystore=keystore
        )
        await fleet.open()
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        await fleet.close()
