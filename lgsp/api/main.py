"""The native API: every resource router, gathered."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import agencies, events, health, hub, inbox, outbox, packages, stats, token, trace

api_router = APIRouter()
# Routes are matched in this order: the two intake paths, the busiest, come first.
for module in (packages, hub, inbox, token, health, trace, agencies, outbox, stats, events):
    api_router.include_router(module.router)
