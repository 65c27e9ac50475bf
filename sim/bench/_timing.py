from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """How fast one operation ran: operations per second and mean milliseconds."""

    ops: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Operations per second."""
        return self.ops / self.seconds if self.seconds else float("inf")

    @property
    def ms(self) -> float:
        """Mean milliseconds per operation."""
        return self.seconds * 1000 / self.ops if self.ops else 0.0


def measure(operation: Callable[[], object], *, min_seconds: float, min_ops: int = 3) -> Rate:
    """Run ``operation`` repeatedly for at least ``min_seconds`` (after one warm-up call)."""
    operation()
    ops = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < min_seconds or ops < min_ops:
        operation()
        ops += 1
        elapsed = time.perf_counter() - start
    return Rate(ops=ops, seconds=elapsed)
