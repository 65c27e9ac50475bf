"""``POST /fleet/load``: send a batch of documents, drawing which signatures each carries.

The orchestrator (`lgsp-sim report`, load runs) says who writes to whom; the fleet drafts,
signs and submits each document as `POST /fleet/send` would, applying the personal and the
agency PAdES signature with the given probabilities. What the documents really carry is
measured by the hubs' verification, never taken from these probabilities: the counts this
answers are the fleet's own record of what it did, for a caller's cross-check.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from .fleet import Fleet, FleetError

router = APIRouter(prefix="/fleet", tags=["fleet"])


class LoadDocument(BaseModel):
    """One document of a batch: sender, recipients, and optionally its text and type."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1, max_length=500)
    subject: str = Field(default="Văn bản điện tử", min_length=1, max_length=2000)
    type_name: str | None = Field(default=None, max_length=100)
    due_days: int | None = Field(default=None, ge=0, le=3650)


class LoadRequest(BaseModel):
    """A batch to send, with the probability of each PAdES signature."""

    model_config = ConfigDict(extra="forbid")

    documents: list[LoadDocument] = Field(min_length=1, max_length=5000)
    personal_probability: float = Field(default=1.0, ge=0, le=1)
    agency_probability: float = Field(default=1.0, ge=0, le=1)
    seed: int | None = None
    concurrency: int = Field(default=4, ge=1, le=64)


class LoadResponse(BaseModel):
    """What became of the batch."""

    requested: int
    accepted: int
    duplicates: int
    refused: dict[str, int]  # error code -> documents
    applied: dict[str, int]  # signatures the fleet applied: personal, agency
    document_ids: list[str]


def _fleet(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


@router.post("/load", response_model=LoadResponse)
async def load(body: LoadRequest, fleet: Annotated[Fleet, Depends(_fleet)]) -> dict[str, Any]:
    """Draft, sign (by the probabilities) and submit every document of the batch."""
    unknown = sorted({d.from_ for d in body.documents if not fleet.hosts(d.from_)})
    if unknown:
        raise FleetError(
            "unknown_agency",
            f"{', '.join(unknown[:5])} {'is' if len(unknown) == 1 else 'are'} not hosted by "
            f"{fleet.fleet_id}",
            http_status=404,
        )
    rng = random.Random(body.seed)  # noqa: S311 - simulation draws, not secrets
    plans = [
        (document, rng.random() < body.personal_probability, rng.random() < body.agency_probability)
        for document in body.documents
    ]
    gate = asyncio.Semaphore(body.concurrency)
    refused: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    ids: list[str] = [""] * len(plans)

    async def one(index: int, document: LoadDocument, personal: bool, agency: bool) -> None:
        async with gate:
            try:
                sent = await fleet.send(
                    sender=document.from_,
                    to=document.to,
                    subject=document.subject,
                    type_name=document.type_name,
                    due_days=document.due_days,
                    personal_signature=personal,
                    agency_signature=agency,
                )
            except FleetError as exc:
                refused[exc.code] += 1
                return
        ids[index] = sent.document_id
        if sent.error is not None:
            refused[str(sent.error.get("code", "error"))] += 1
            return
        outcome["duplicates" if sent.http_status == 200 else "accepted"] += 1
        applied["personal"] += personal
        applied["agency"] += agency

    await asyncio.gather(*(one(i, *plan) for i, plan in enumerate(plans)))
    return {
        "requested": len(plans),
        "accepted": outcome["accepted"],
        "duplicates": outcome["duplicates"],
        "refused": dict(refused),
        "applied": {"personal": applied["personal"], "agency": applied["agency"]},
        "document_ids": [i for i in ids if i],
    }
