"""Simulated document-management systems (DMS): one fleet process per hub, every agency
attached to that hub inside it.

A fleet drafts documents with real signatures (PDF → personal and agency PAdES → edXML →
envelope XMLDSig) and submits them to its hub; its clerk polls the hub's inbox for all its
agencies, verifies what arrives, confirms it and answers with signed status packages on the
schedule of a behaviour profile. It talks to hubs over HTTP only (`HubClient`).

Typical use::

    python -m agencies serve --fleet-id fleet-h56 --data .lgsp-data --port 8156

    app = agencies.create_app(agencies.FleetSettings(fleet_id="fleet-h56", data=path))
"""

from __future__ import annotations

from .app import create_app
from .clerk import Clerk, Inspection, inspect_package
from .drafting import (
    AgencyCard,
    DocumentSpec,
    Draft,
    Signatory,
    agency_card,
    draft_document,
    draft_status,
)
from .fleet import Fleet, FleetConfig, FleetError, SendOutcome, read_config
from .hubclient import HubClient, HubError, InboxItem, NativeHubClient, Receipt
from .profile import Profile, ProfileError, load_profile, parse_profile, preset_names
from .settings import FleetSettings
from .state import FleetState

__all__ = [
    "AgencyCard",
    "Clerk",
    "DocumentSpec",
    "Draft",
    "Fleet",
    "FleetConfig",
    "FleetError",
    "FleetSettings",
    "FleetState",
    "HubClient",
    "HubError",
    "InboxItem",
    "Inspection",
    "NativeHubClient",
    "Profile",
    "ProfileError",
    "Receipt",
    "SendOutcome",
    "Signatory",
    "agency_card",
    "create_app",
    "draft_document",
    "draft_status",
    "inspect_package",
    "load_profile",
    "parse_profile",
    "preset_names",
    "read_config",
]
