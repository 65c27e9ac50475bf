"""Traces: a package's hops, recipients and statuses at this hub."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lgsp.api.deps import HubDep, SessionDep
from lgsp.api.errors import ApiError
from lgsp.stats import Trace, trace_document, trace_package

router = APIRouter(prefix="/api/v1", tags=["trace"])


@router.get("/packages/{doc_id}/trace", response_model=Trace)
async def trace_by_doc_id(doc_id: str, session: SessionDep, hub: HubDep) -> Trace:
    """The trace of a package by this hub's doc id."""
    trace = await trace_package(session, doc_id)
    if trace is None:
        raise ApiError("package_not_found", f"no package {doc_id!r} at {hub.hub_id}", 404)
    return trace


@router.get("/trace", response_model=Trace)
async def trace_by_identity(
    sender: Annotated[str, Query(min_length=1, description="From/OrganId")],
    document_id: Annotated[str, Query(min_length=1, description="the edXML DocumentId")],
    session: SessionDep,
    hub: HubDep,
) -> Trace:
    """The trace of a document by its edXML identity (the same on every hub it passed)."""
    trace = await trace_document(session, sender=sender, document_id=document_id)
    if trace is None:
        raise ApiError(
            "package_not_found",
            f"document {document_id!r} from {sender} did not pass {hub.hub_id}",
            404,
        )
    return trace
