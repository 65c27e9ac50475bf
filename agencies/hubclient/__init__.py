"""Clients of a hub for a DMS fleet: the `HubClient` protocol, over the SDK's VXP protocol
(`SdkHubClient`, the default) or the native REST API (`NativeHubClient`)."""

from __future__ import annotations

from .base import AckState, HubClient, HubError, InboxItem, PackageKind, Receipt
from .native import NativeHubClient, UrlSource
from .sdk import SdkHubClient

__all__ = [
    "AckState",
    "HubClient",
    "HubError",
    "InboxItem",
    "NativeHubClient",
    "PackageKind",
    "Receipt",
    "SdkHubClient",
    "UrlSource",
]
