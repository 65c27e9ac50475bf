"""Clients of a hub for a DMS fleet: the `HubClient` protocol and its native REST implementation."""

from __future__ import annotations

from .base import AckState, HubClient, HubError, InboxItem, PackageKind, Receipt
from .native import NativeHubClient, UrlSource

__all__ = [
    "AckState",
    "HubClient",
    "HubError",
    "InboxItem",
    "NativeHubClient",
    "PackageKind",
    "Receipt",
    "UrlSource",
]
