"""``POST /fleet/load``: a batch sent with drawn signatures; profiles processing off the system."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from agencies_fakehub import FakeHub
from agencies_support import FAST, FLEET_ID, SO_NOI_VU, UBND, client_of

import edoc
import keys
from agencies import FleetSettings, create_app
from agencies.profile import Profile
from edoc import StatusCode


@pytest.fixture
async def api(
    hub: FakeHub, data_dir: Path, keystore: keys.KeyStore, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The control API of fleet-h56 against the fake hub."""
    profile = tmp_path / "fast.json"
    profile.write_text(FAST.model_dump_json())
    settings = FleetSettings(fleet_id=FLEET_ID, data=data_dir, profile=str(profile))
    app = create_app(settings, hub=client_of(hub), keystore=keystore)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://fleet"
        ) as client,
    ):
        yield client


async def test_a_batch_applies_signatures_by_probability(
    api: httpx.AsyncClient, hub: FakeHub, trust: keys.TrustStore
) -> None:
    documents = [
        {"from": UBND, "to": [SO_NOI_VU], "subject": f"Văn bản {n}", "due_days": 5}
        for n in range(6)
    ]
    response = await api.post(
        "/fleet/load",
        json={
            "documents": documents,
            "personal_probability": 0.0,
            "agency_probability": 1.0,
            "seed": 7,
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["requested"], answer["accepted"], answer["refused"]) == (6, 6, {})
    assert answer["applied"] == {"personal": 0, "agency": 6}
    assert len(set(answer["document_ids"])) == 6
    sent = [s for s in hub.submitted if s.kind == "document"]
    assert len(sent) == 6
    for stored in sent:
        assessment = keys.assess_package(stored.data, trust, at=datetime.now(UTC))
        assert (assessment.personal.value, assessment.agency.value) == ("absent", "valid")
        parsed = edoc.parse(stored.data)
        assert isinstance(parsed, edoc.DocumentPackage) and parsed.header.due_date is not None


async def test_the_draws_follow_the_seed(api: httpx.AsyncClient) -> None:
    documents = [{"from": UBND, "to": [SO_NOI_VU]} for _ in range(8)]
    body = {
        "documents": documents,
        "personal_probability": 0.5,
        "agency_probability": 0.5,
        "seed": 3,
    }
    applied = (await api.post("/fleet/load", json=body)).json()["applied"]
    rng = random.Random(3)
    draws = [(rng.random() < 0.5, rng.random() < 0.5) for _ in documents]
    assert applied == {"personal": sum(p for p, _ in draws), "agency": sum(a for _, a in draws)}


async def test_unknown_senders_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/fleet/load", json={"documents": [{"from": "000.00.00.H04", "to": [UBND]}]}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_agency"


def test_offline_processing_stops_after_registration() -> None:
    profile = Profile(offline_rate={"commune": 1.0, "*": 0.0})
    kwargs = {"received_at": datetime.now(UTC), "due_date": None, "verified": True}
    offline = profile.plan(rng=random.Random(1), tier="commune", **kwargs)  # type: ignore[arg-type]
    online = profile.plan(rng=random.Random(1), tier="province", **kwargs)  # type: ignore[arg-type]
    assert [code for _, code in offline] == [StatusCode.ARRIVED, StatusCode.ACCEPTED]
    assert [code for _, code in online][-1] is StatusCode.COMPLETED
    with pytest.raises(ValueError, match="between 0 and 1"):
        Profile(offline_rate={"commune": 1.5})
