"""The NDXP application: the hub app with role ``ndxp`` and hub id ``ndxp``."""

from __future__ import annotations

from typing import Any, Final

import httpx
from fastapi import FastAPI

from lgsp.app import create_app as create_hub_app
from lgsp.settings import HubRole, HubSettings
from simtime import Clock

NDXP_HUB_ID: Final = "ndxp"


def ndxp_settings(**values: Any) -> HubSettings:
    """Hub settings for the NDXP (``LGSP_*`` environment for the rest)."""
    return HubSettings(**{**values, "hub_id": NDXP_HUB_ID, "role": HubRole.NDXP})


def create_app(
    settings: HubSettings | None = None,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The NDXP's FastAPI app (settings forced to role ndxp, hub id ndxp)."""
    base = settings.model_dump(exclude={"hub_id", "role"}) if settings is not None else {}
    return create_hub_app(ndxp_settings(**base), clock=clock, transport=transport)
