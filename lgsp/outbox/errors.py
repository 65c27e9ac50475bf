"""Errors a delivery function raises to steer the outbox."""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """The next hub refused the package for good: dead-letter the row now, do not retry."""
