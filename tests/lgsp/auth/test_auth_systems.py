"""DMS systems: systems.json, encrypted storage, in-memory credential checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubkit import MovableClock
from sqlmodel import select

from lgsp.auth import (
    AuthError,
    DmsSystem,
    SystemEntry,
    SystemRegistry,
    derive_key,
    read_systems_file,
    secret_cipher,
    sync_systems,
)
from lgsp.store import Database

H56, H56B, H04 = "000.00.00.H56", "000.00.01.H56", "000.00.00.H04"
SECRET = b"hub secret"


def test_read_only_the_entries_of_this_hub(tmp_path: Path) -> None:
    path = tmp_path / "systems.json"
    assert read_systems_file(path, hub_id="lgsp-h56") is None
    path.write_text(
        json.dumps(
            [
                {"system_id": "a", "secret": "s", "hub_id": "lgsp-h56", "agencies": [H56]},
                {"system_id": "b", "secret": "t", "hub_id": "lgsp-h04", "agencies": [H04]},
            ]
        )
    )
    assert read_systems_file(path, hub_id="lgsp-h56") == [
        SystemEntry(system_id="a", secret="s", hub_id="lgsp-h56", agencies=(H56,))
    ]


@pytest.mark.parametrize(
    "content",
    [
        "{",
        "{}",
        '["x"]',
        '[{"hub_id": "h", "secret": "s", "agencies": []}]',
        '[{"hub_id": "h", "system_id": "a", "agencies": []}]',
        '[{"hub_id": "h", "system_id": "a", "secret": "s", "agencies": "all"}]',
    ],
)
def test_a_broken_file_is_reported(tmp_path: Path, content: str) -> None:
    path = tmp_path / "systems.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"systems\.json"):
        read_systems_file(path, hub_id="h")


async def test_sync_encrypts_and_the_registry_authenticates(
    tmp_path: Path, hub_clock: MovableClock
) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'hub.db'}")
    await db.create_schema()
    cipher = secret_cipher(SECRET, hub_id="lgsp-h56")
    entries = [
        SystemEntry(system_id="fleet", secret="p4ss", hub_id="lgsp-h56", agencies=(H56, H04)),
        SystemEntry(system_id="old", secret="x", hub_id="lgsp-h56", agencies=(H56B,)),
    ]
    async with db.session() as session:
        await sync_systems(session, entries, hub_id="lgsp-h56", cipher=cipher, now=hub_clock.now())
        await session.commit()
    async with db.session() as session:
        await sync_systems(
            session, entries[:1], hub_id="lgsp-h56", cipher=cipher, now=hub_clock.now()
        )
        await session.commit()
    async with db.session(readonly=True) as session:
        [stored] = list(await session.exec(select(DmsSystem)))
        assert stored.system_id == "fleet"
        assert "p4ss" not in stored.secret_encrypted
        registry = SystemRegistry(
            hub_id="lgsp-h56", key=derive_key(SECRET, purpose="t", hub_id="x")
        )
        await registry.load(session, cipher=cipher, local_agencies=[H56, H56B])
    system = registry.authenticate("fleet", "p4ss")
    # H04 is not attached to lgsp-h56: the system may not speak for it here.
    assert system.agencies == frozenset({H56})
    assert system.hosts(H56) and not system.hosts(H04)
    for system_id, secret in (("fleet", "wrong"), ("old", "x"), ("nobody", "p4ss")):
        with pytest.raises(AuthError) as caught:
            registry.authenticate(system_id, secret)
        assert caught.value.code == "invalid_client"
    # Another hub's key cannot read the stored secrets.
    other = SystemRegistry(hub_id="lgsp-h56", key=b"k")
    async with db.session(readonly=True) as session:
        await other.load(
            session, cipher=secret_cipher(b"other", hub_id="lgsp-h56"), local_agencies=[H56]
        )
    assert len(other) == 0
    await db.dispose()


async def test_one_system_serves_one_hub(tmp_path: Path, hub_clock: MovableClock) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'hub.db'}")
    await db.create_schema()
    cipher = secret_cipher(SECRET, hub_id="x")
    entry = SystemEntry(system_id="fleet", secret="s", hub_id="lgsp-h56", agencies=(H56,))
    async with db.session() as session:
        await sync_systems(session, [entry], hub_id="lgsp-h56", cipher=cipher, now=hub_clock.now())
        await session.commit()
    async with db.session() as session:
        with pytest.raises(ValueError, match="one system serves one hub"):
            await sync_systems(
                session, [entry], hub_id="lgsp-h04", cipher=cipher, now=hub_clock.now()
            )
    await db.dispose()
