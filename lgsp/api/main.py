"""The native API: every resource router, gathered."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import agencies, events, health, hub, inbox, outbox, packages, stats, token, trace

api_router = APIRouter()
for module in (health, token, packages, inbox, trace, agencies, outbox, stats, events, hub):
    api_router.include_router(module.router)
