"""The load generator of `bench exchange`: N keep-alive HTTP/1.1 connections from one process.

A minimal client on raw asyncio transports (uvloop, httptools' response parser, no pipelining):
each connection sends one POST, reads its whole answer, sends the next. It costs far less CPU
per request than httpx, so on two cores it can drive a one-core server to its limit. Bodies are
either one body sent every time (the bare endpoint) or a file of distinct bodies, each sent
once (signed packages: a resent DocumentId would be a duplicate, not an acceptance).

``run_load_process`` runs it as its own process (``python -m sim.bench._load SPEC.json``, which
prints a `LoadResult` as JSON) so the bench's own interpreter never competes with it; ``run_load``
is the same thing in the caller's event loop (tests). ``run_wrk`` drives the same endpoint with
``wrk``, when installed, as an independent check that the generator is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from sim.errors import SimError

GENERATOR_NAME = "raw asyncio HTTP/1.1 client (uvloop, httptools parser; one process)"
_FRAME = struct.Struct("<I")
# Once the deadline passes, requests still in flight get this long before they count as lost.
DEFAULT_GRACE = 10.0
# Connections the server closes are reopened, but never more than this many times each.
MAX_RECONNECTS_PER_CONNECTION = 5


class LoadError(SimError):
    """The load generator could not run: a stable code and a clear message."""


@dataclass(frozen=True)
class LoadSpec:
    """What to send, where, how many connections and for how long."""

    url: str
    concurrency: int
    seconds: float
    warmup: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body_file: str | None = None  # one body, sent with every request
    bodies_file: str | None = None  # distinct bodies (`write_bodies`), each sent once
    grace: float = DEFAULT_GRACE

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LoadSpec:
        """Parse what `as_json` wrote."""
        return cls(**raw)


@dataclass(frozen=True)
class LoadResult:
    """What came back: responses in the measured window, statuses, errors, latencies."""

    completed: int  # responses that arrived inside the window
    seconds: float  # the window's length
    window_statuses: dict[int, int]  # HTTP status → responses inside the window
    statuses: dict[int, int]  # HTTP status → every response, warm-up and overrun included
    errors: dict[str, int]  # "<status> <error code>" for 4xx/5xx, or a transport failure
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    sent: int = 0  # requests sent in all
    exhausted: bool = False  # the distinct bodies ran out before the deadline
    window_from: float = 0.0  # the window on the wall clock (time.time()), to line it up
    window_to: float = 0.0  # with what other processes measured meanwhile

    @property
    def per_second(self) -> float:
        """Responses per second inside the window, whatever their status."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def rate_of(self, status: int) -> float:
        """Responses with this HTTP status per second inside the window."""
        if self.seconds <= 0:
            return 0.0
        return self.window_statuses.get(status, 0) / self.seconds

    @property
    def error_count(self) -> int:
        """Every failed request, inside the window or not."""
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (status keys become strings)."""
        data = asdict(self)
        data["window_statuses"] = {str(k): v for k, v in self.window_statuses.items()}
        data["statuses"] = {str(k): v for k, v in self.statuses.items()}
        return data

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LoadResult:
        """Parse what `as_json` wrote."""
        data = dict(raw)
        data["window_statuses"] = {int(k): int(v) for k, v in raw["window_statuses"].items()}
        data["statuses"] = {int(k): int(v) for k, v in raw["statuses"].items()}
        return cls(**data)


# --- distinct bodies on disk -------------------------------------------------------------------


def write_bodies(path: Path, bodies: Iterable[bytes], *, append: bool = False) -> int:
    """Write bodies as length-prefixed frames; returns how many were written."""
    count = 0
    with path.open("ab" if append else "wb") as handle:
        for body in bodies:
            handle.write(_FRAME.pack(len(body)))
            handle.write(body)
            count += 1
    return count


def count_bodies(path: Path) -> int:
    """How many frames a bodies file holds (0 if it does not exist or is cut short)."""
    if not path.is_file():
        return 0
    return sum(1 for _ in _frames(path))


def read_bodies(path: Path) -> list[memoryview]:
    """Every body of a file, as views on one memory map (no copy of the bytes)."""
    return [view for _, view in _frames(path)]


def _frames(path: Path) -> Iterator[tuple[int, memoryview]]:
    if path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    offset = 0
    index = 0
    while offset + _FRAME.size <= len(view):
        (size,) = _FRAME.unpack_from(view, offset)
        start = offset + _FRAME.size
        if start + size > len(view):
            return  # a frame cut short (an interrupted write): ignore it and what follows
        yield index, view[start : start + size]
        offset = start + size
        index += 1


# --- the client --------------------------------------------------------------------------------


class _Run:
    """The state one load run shares between its connections."""

    def __init__(self, spec: LoadSpec, bodies: Sequence[bytes | memoryview]) -> None:
        parts = urlsplit(spec.url)
        if parts.scheme != "http" or not parts.hostname:
            raise LoadError("bad_url", f"{spec.url!r}: the load generator speaks plain http://")
        self.host = parts.hostname
        self.port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self.distinct = spec.bodies_file is not None
        self.bodies = bodies
        self.next_body = 0
        headers = {"Host": f"{self.host}:{self.port}", "Content-Type": "application/xml"}
        headers.update(spec.headers)
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head_prefix = f"POST {path} HTTP/1.1\r\n{lines}".encode("latin-1")
        self._heads: dict[int, bytes] = {}
        self.spec = spec
        self.started = 0.0
        self.window_start = 0.0
        self.deadline = 0.0
        self.stopping = False
        self.stopped_at = 0.0
        self.exhausted = False
        self.sent = 0
        self.completed = 0
        self.last_in_window = 0.0
        self.window_statuses: Counter[int] = Counter()
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.in_flight = 0
        self.open = 0
        self.reconnects = 0
        self.idle = asyncio.Event()

    def head(self, size: int) -> bytes:
        """The request head for a body of ``size`` bytes (cached: sizes repeat)."""
        head = self._heads.get(size)
        if head is None:
            head = self._head_prefix + f"Content-Length: {size}\r\n\r\n".encode()
            self._heads[size] = head
        return head

    def take_body(self) -> bytes | memoryview | None:
        """The next body to send, or None when the run is over for new requests."""
        if self.stopping:
            return None
        now = time.perf_counter()
        if now >= self.deadline:
            self.stop(now)
            return None
        if not self.distinct:
            return self.bodies[0]
        if self.next_body >= len(self.bodies):
            self.exhausted = True
            self.stop(now)
            return None
        body = self.bodies[self.next_body]
        self.next_body += 1
        return body

    def stop(self, now: float) -> None:
        """No new requests from now on (idempotent: the first stop time stands)."""
        if not self.stopping:
            self.stopping = True
            self.stopped_at = now

    def record(self, status: int, sent_at: float, body: bytes) -> None:
        """One response arrived."""
        now = time.perf_counter()
        self.statuses[status] += 1
        if status >= 400:
            self.errors[f"{status} {_error_code(body)}"] += 1
        if self.window_start <= now <= self.deadline:
            self.completed += 1
            self.window_statuses[status] += 1
            self.latencies.append(now - sent_at)
            self.last_in_window = now

    def fail(self, what: str) -> None:
        """One request failed without an answer."""
        self.errors[what] += 1

    def check_idle(self) -> None:
        """Wake the runner once nothing is in flight after the stop (or no connection is left)."""
        if (self.stopping and self.in_flight == 0) or self.open == 0:
            self.idle.set()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: send, read the whole answer, send the next."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sent_at = 0.0
        self.busy = False
        self.error_body: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its interface.
        self.transport = cast(asyncio.Transport, transport)
        self.run.open += 1
        self._send_next()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._abandon(f"bad_response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.open -= 1
        if self.busy:
            self.busy = False
            run.in_flight -= 1
            run.fail("connection_lost" if exc is None else f"connection_lost: {type(exc).__name__}")
        if not self.closed.done():
            self.closed.set_result(None)
        run.check_idle()

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        """Keep the body only of refusals: their error code is counted."""
        if self.parser.get_status_code() >= 400:
            self.error_body.append(body)

    def on_message_complete(self) -> None:
        """One whole answer: count it and send the next request on this connection."""
        run = self.run
        status = self.parser.get_status_code()
        run.record(status, self.sent_at, b"".join(self.error_body))
        self.error_body.clear()
        self.busy = False
        run.in_flight -= 1
        if not self.parser.should_keep_alive():
            self.close()
            return
        self._send_next()

    # ours

    def _send_next(self) -> None:
        run = self.run
        body = run.take_body()
        if body is None or self.transport is None or self.transport.is_closing():
            run.check_idle()
            return
        self.busy = True
        run.in_flight += 1
        run.sent += 1
        self.sent_at = time.perf_counter()
        self.transport.write(run.head(len(body)))
        self.transport.write(body)

    def _abandon(self, what: str) -> None:
        if self.busy:
            self.busy = False
            self.run.in_flight -= 1
            self.run.fail(what)
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _error_code(body: bytes) -> str:
    # The hubs' errors are {"error": {"code": ...}}; anything else is named by its status only.
    try:
        raw = json.loads(body)
    except ValueError:
        return "unreadable"
    error = raw.get("error") if isinstance(raw, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    detail = raw.get("detail") if isinstance(raw, dict) else None
    return "validation" if detail is not None else "unknown"


def _bodies_of(spec: LoadSpec) -> Sequence[bytes | memoryview]:
    # Read before the clock starts; a distinct-bodies file is mapped, not copied.
    if spec.body_file is not None and spec.bodies_file is None:
        return [Path(spec.body_file).read_bytes()]
    if spec.bodies_file is not None and spec.body_file is None:
        bodies = read_bodies(Path(spec.bodies_file))
        if not bodies:
            raise LoadError("no_bodies", f"{spec.bodies_file} holds no request body")
        return bodies
    raise LoadError("bad_spec", "give exactly one of body_file and bodies_file")


async def run_load(spec: LoadSpec) -> LoadResult:
    """Drive the endpoint in the running event loop and return what came back."""
    if spec.concurrency < 1:
        raise LoadError("bad_concurrency", "the load generator needs at least one connection")
    bodies = _bodies_of(spec)
    run = _Run(spec, bodies)
    loop = asyncio.get_running_loop()
    run.started = time.perf_counter()
    wall_offset = time.time() - run.started
    run.window_start = run.started + spec.warmup
    run.deadline = run.window_start + spec.seconds
    connections: list[_Connection] = []

    async def connect() -> None:
        connection = _Connection(run)
        try:
            await loop.create_connection(lambda: connection, run.host, run.port)
        except OSError as exc:
            run.fail(f"connect_failed: {type(exc).__name__}")
            return
        connections.append(connection)

    await asyncio.gather(*(connect() for _ in range(spec.concurrency)))
    reopen_budget = spec.concurrency * MAX_RECONNECTS_PER_CONNECTION
    # Wait for the stop; reopen connections the server closed while there is time left.
    while True:
        run.idle.clear()
        run.check_idle()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.idle.wait(), timeout=0.2)
        now = time.perf_counter()
        if now >= run.deadline:
            run.stop(now)
        if run.stopping and run.in_flight == 0:
            break
        if run.stopping and now > run.stopped_at + spec.grace:
            for _ in range(run.in_flight):
                run.fail("timeout")
            break
        missing = spec.concurrency - run.open
        if not run.stopping and missing > 0:
            if run.reconnects >= reopen_budget:
                run.stop(now)  # the server keeps closing: stop rather than spin
                continue
            run.reconnects += missing
            await asyncio.gather(*(connect() for _ in range(missing)))
    for connection in connections:
        connection.busy = False  # what is still in flight was counted as a timeout above
        connection.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*(c.closed for c in connections), return_exceptions=True), timeout=5
        )
    if run.exhausted and run.last_in_window > run.window_start:
        window = run.last_in_window - run.window_start
    else:
        window = min(spec.seconds, max(0.0, time.perf_counter() - run.window_start))
    latencies = sorted(run.latencies)
    return LoadResult(
        completed=run.completed,
        seconds=window,
        window_statuses=dict(run.window_statuses),
        statuses=dict(run.statuses),
        errors=dict(run.errors),
        latency_p50_ms=percentile(latencies, 50) * 1000,
        latency_p99_ms=percentile(latencies, 99) * 1000,
        sent=run.sent,
        exhausted=run.exhausted,
        window_from=run.window_start + wall_offset,
        window_to=run.window_start + window + wall_offset,
    )


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(pct * len(sorted_values) / 100)))
    return sorted_values[rank - 1]


def run_load_process(spec: LoadSpec, *, python: str = sys.executable) -> LoadResult:
    """Run the generator as its own process (its own core) and return its result."""
    with tempfile.TemporaryDirectory(prefix="lgsp-load-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec.as_json()))
        limit = spec.warmup + spec.seconds + spec.grace + 60
        try:
            done = subprocess.run(
                [python, "-m", "sim.bench._load", str(spec_path)],
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except subprocess.TimeoutExpired:
            raise LoadError(
                "load_timeout", f"the load generator did not finish within {limit:.0f} s"
            ) from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise LoadError(
            "load_failed",
            f"the load generator exited with code {done.returncode}: {' | '.join(tail)}",
        )
    try:
        return LoadResult.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise LoadError("load_failed", f"unreadable load generator output ({exc})") from None


# --- wrk, as an independent check --------------------------------------------------------------

_WRK_SCRIPT = """
wrk.method = "POST"
local f = assert(io.open(os.getenv("LGSP_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/xml"
"""


@dataclass(frozen=True)
class WrkResult:
    """What wrk reported: requests per second and responses outside 2xx/3xx."""

    requests_per_s: float
    non_2xx: int
    socket_errors: str | None


def wrk_available() -> bool:
    """Whether ``wrk`` is installed."""
    return shutil.which("wrk") is not None


def run_wrk(*, url: str, body_file: Path, concurrency: int, seconds: float) -> WrkResult:
    """POST one body with ``wrk`` (one thread: one core, like our generator)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk_missing", "wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="lgsp-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT)
        duration = max(1, round(seconds))
        try:
            done = subprocess.run(
                [
                    wrk,
                    "-t1",
                    f"-c{concurrency}",
                    f"-d{duration}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(script),
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=duration + 60,
                check=False,
                env={**os.environ, "LGSP_BENCH_BODY": str(body_file)},
            )
        except subprocess.TimeoutExpired:
            raise LoadError("wrk_timeout", "wrk did not finish in time") from None
    found = re.search(r"Requests/sec:\s*([0-9.]+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise LoadError("wrk_failed", (done.stderr or done.stdout).strip()[-300:])
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", done.stdout)
    socket = re.search(r"Socket errors:\s*(.+)", done.stdout)
    return WrkResult(
        requests_per_s=float(found.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket.group(1).strip() if socket else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.bench._load SPEC.json``: run, print the result as one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m sim.bench._load SPEC.json", file=sys.stderr)
        return 2
    spec = LoadSpec.from_json(json.loads(Path(args[0]).read_text()))
    try:
        import uvloop

        result = uvloop.run(run_load(spec))
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
