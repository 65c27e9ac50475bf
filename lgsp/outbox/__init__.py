"""Forwarding to the next hub: a transactional outbox worked by leasing workers.

Rows are enqueued in the same transaction that stores the package (``store_package`` or
:func:`enqueue`); an :class:`OutboxWorker` per replica claims due rows, calls ``deliver``
and marks each sent, or failed with exponential backoff and full jitter until the row is
dead-lettered. Delivery is at-least-once: the receiving hub de-duplicates.
"""

from __future__ import annotations

from .errors import PermanentDeliveryError
from .service import (
    RetryPolicy,
    claim_due,
    enqueue,
    list_outbox,
    mark_failed,
    mark_sent,
    mark_sent_many,
    outbox_counts,
    requeue_dead,
)
from .worker import Deliver, OutboxWorker

__all__ = [
    "Deliver",
    "OutboxWorker",
    "PermanentDeliveryError",
    "RetryPolicy",
    "claim_due",
    "enqueue",
    "list_outbox",
    "mark_failed",
    "mark_sent",
    "mark_sent_many",
    "outbox_counts",
    "requeue_dead",
]
