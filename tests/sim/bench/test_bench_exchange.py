"""`bench exchange`: the figures' arithmetic, the load generator's counting, the command's JSON.

Behaviour only: no assertion here depends on how fast anything ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from sim.bench import exchange as exchange_module
from sim.bench._load import (
    LoadResult,
    LoadSpec,
    count_bodies,
    percentile,
    read_bodies,
    run_load,
    write_bodies,
)
from sim.bench.exchange import (
    ACCEPTANCE_BAR,
    MAX_PACKAGES,
    MIN_PACKAGES,
    STATS_OVERHEAD_BAR_PCT,
    AcceptanceRun,
    BareRun,
    CpuSampler,
    EndToEnd,
    ExchangeFigures,
    Round,
    floor_per_s,
    packages_needed,
    profile_breakdown,
    stats_overhead_pct,
    summarize_profile,
)
from sim.cli import app
from sim.cli.bench import _print_exchange

LGSP_SIM = str(Path(sys.executable).with_name("lgsp-sim"))
REQUIRED_KEYS = {
    "bare_requests_per_s",
    "envelope_verify_ms",
    "floor_per_s",
    "acceptance_per_s",
    "acceptance_vs_floor",
    "acceptance_bar_met",
    "end_to_end_docs_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "documents",
    "load_generator",
}


def _load(ok: int, seconds: float = 1.0, **extra: int) -> LoadResult:
    statuses = {201: ok, **{int(k.removeprefix("s")): v for k, v in extra.items()}}
    return LoadResult(
        completed=sum(statuses.values()),
        seconds=seconds,
        window_statuses=statuses,
        statuses=statuses,
        errors={},
    )


def _figures(*, bare: int, verify_ms: float, accepted: int) -> ExchangeFigures:
    return ExchangeFigures(
        cpu_count=2,
        load_average=(0.5, 0.4, 0.3),
        package_bytes=20_000,
        load_generator="test",
        concurrency=32,
        bare=BareRun(load=_load(bare), cpu_share=0.98),
        envelope_verify_ms=verify_ms,
        acceptance=AcceptanceRun(load=_load(accepted, s422=7)),
        end_to_end=EndToEnd(
            documents=4,
            completed=4,
            seconds=2.0,
            latencies_ms=(1000.0, 1200.0, 1100.0, 3000.0),
            hub_latencies_ms=(900.0, 950.0),
        ),
    )


# --- the figures ---------------------------------------------------------------------------


def test_floor_combines_http_and_verification_one_after_the_other() -> None:
    # 5,000 req/s is 0.2 ms a request; with 0.3 ms of verification: 0.5 ms, 2,000 /s.
    assert floor_per_s(5000, 0.3) == pytest.approx(2000)
    assert floor_per_s(1000, 0.0) == pytest.approx(1000)
    assert floor_per_s(0, 0.3) == 0.0


def test_figures_ratio_and_bar_from_given_numbers() -> None:
    met = _figures(bare=5000, verify_ms=0.3, accepted=1300)
    assert met.bare_requests_per_s == pytest.approx(5000)
    assert met.floor_per_s == pytest.approx(2000)
    # Only 201s count as accepted: the 422s of the same window do not.
    assert met.acceptance_per_s == pytest.approx(1300)
    assert met.acceptance_vs_floor == pytest.approx(0.65)
    assert met.acceptance_bar_met
    missed = _figures(bare=5000, verify_ms=0.3, accepted=1000)
    assert missed.acceptance_vs_floor == pytest.approx(0.5)
    assert not missed.acceptance_bar_met
    exactly = _figures(bare=5000, verify_ms=0.3, accepted=int(2000 * ACCEPTANCE_BAR))
    assert exactly.acceptance_bar_met


def test_figures_as_dict_has_every_key_and_end_to_end_figures() -> None:
    out = _figures(bare=5000, verify_ms=0.3, accepted=1300).as_dict()
    assert set(out) >= REQUIRED_KEYS
    assert out["floor_per_s"] == 2000.0
    assert out["acceptance_vs_floor"] == 0.65
    assert out["acceptance_bar_met"] is True
    assert out["end_to_end_docs_per_s"] == 2.0
    assert out["documents"] == 4
    assert out["latency_p50_ms"] == 1100.0  # nearest rank of 1000, 1100, 1200, 3000
    assert out["latency_p99_ms"] == 3000.0
    assert out["acceptance_statuses"] == {"201": 1300, "422": 7}
    json.dumps(out)  # JSON-ready as it is


def test_figures_without_end_to_end() -> None:
    figures = _figures(bare=5000, verify_ms=0.3, accepted=1300)
    bare = ExchangeFigures(**{**figures.__dict__, "end_to_end": None})
    out = bare.as_dict()
    assert set(out) >= REQUIRED_KEYS
    assert out["end_to_end_docs_per_s"] is None
    assert out["documents"] == 0


def test_figures_list_every_round() -> None:
    figures = _figures(bare=5000, verify_ms=0.3, accepted=1300)
    slow = Round(
        load_average=3.5,
        bare=BareRun(load=_load(2500), cpu_share=0.45),
        envelope_verify_ms=0.6,
        acceptance=AcceptanceRun(load=_load(400), cpu_share=None),
    )
    best = Round(1.2, figures.bare, 0.3, figures.acceptance)
    out = ExchangeFigures(**{**figures.__dict__, "rounds": (slow, best)}).as_dict()
    assert out["repeat"] == 2
    assert out["rounds"][0] == {
        "load_average_1m": 3.5,
        "bare_requests_per_s": 2500.0,
        "bare_server_cpu_share": 0.45,
        "envelope_verify_ms": 0.6,
        "acceptance_per_s": 400.0,
        "acceptance_hub_cpu_share": None,
        "acceptance_stats_off_per_s": None,
        "acceptance_stats_off_hub_cpu_share": None,
    }
    assert out["bare_server_cpu_share"] == 0.98


def _compared(*, on: int, off: int) -> ExchangeFigures:
    """Figures of one round whose hub accepted ``on`` /s with statistics, ``off`` without."""
    figures = _figures(bare=5000, verify_ms=0.3, accepted=on)
    stats_off = AcceptanceRun(load=_load(off), hub_env={"LGSP_STATS": "false"}, cpu_share=0.97)
    round_ = Round(1.0, figures.bare, 0.3, figures.acceptance, stats_off)
    return ExchangeFigures(
        **{**figures.__dict__, "rounds": (round_,), "acceptance_stats_off": stats_off}
    )


def test_stats_overhead_is_the_share_of_the_rate_off_that_statistics_cost() -> None:
    assert stats_overhead_pct(900, 1000) == pytest.approx(10.0)
    assert stats_overhead_pct(1100, 1000) == pytest.approx(-10.0)  # faster with statistics
    assert stats_overhead_pct(900, 0) is None
    within = _compared(on=920, off=1000)
    assert within.acceptance_stats_off_per_s == pytest.approx(1000)
    assert within.stats_overhead_pct == pytest.approx(8.0)
    assert within.stats_overhead_within_bar is True
    at_bar = _compared(on=900, off=1000)
    assert at_bar.stats_overhead_within_bar is True  # "at most 10%"
    over = _compared(on=850, off=1000)
    assert over.stats_overhead_pct == pytest.approx(15.0)
    assert over.stats_overhead_within_bar is False
    faster = _compared(on=1030, off=1000)
    assert faster.stats_overhead_pct == pytest.approx(-3.0)
    assert faster.stats_overhead_within_bar is True


def test_stats_figures_in_json_and_in_each_round() -> None:
    out = _compared(on=850, off=1000).as_dict()
    assert out["acceptance_per_s"] == 850.0
    assert out["acceptance_stats_off_per_s"] == 1000.0
    assert out["stats_overhead_pct"] == 15.0
    assert out["stats_overhead_bar_pct"] == STATS_OVERHEAD_BAR_PCT == 10.0
    assert out["stats_overhead_within_bar"] is False
    assert out["acceptance_stats_off_hub_env"] == {"LGSP_STATS": "false"}
    assert out["rounds"][0]["acceptance_per_s"] == 850.0
    assert out["rounds"][0]["acceptance_stats_off_per_s"] == 1000.0
    assert out["rounds"][0]["acceptance_stats_off_hub_cpu_share"] == 0.97
    json.dumps(out)


def test_without_the_comparison_the_stats_figures_are_null() -> None:
    figures = _figures(bare=5000, verify_ms=0.3, accepted=1300)
    assert figures.acceptance_stats_off_per_s is None
    assert figures.stats_overhead_pct is None
    assert figures.stats_overhead_within_bar is None
    out = figures.as_dict()
    assert out["acceptance_stats_off_per_s"] is None
    assert out["stats_overhead_pct"] is None
    assert out["stats_overhead_within_bar"] is None


def _printed(figures: ExchangeFigures) -> str:
    console = Console(record=True, width=140)
    _print_exchange(figures, console)
    return console.export_text()


def test_the_table_shows_statistics_off_and_the_overhead_against_the_bar() -> None:
    slow = Round(2.0, BareRun(load=_load(4000)), 0.4, AcceptanceRun(load=_load(700)), None)
    figures = _compared(on=850, off=1000)
    two_rounds = ExchangeFigures(**{**figures.__dict__, "rounds": (slow, *figures.rounds)})
    text = _printed(two_rounds)
    assert "one LGSP, statistics off" in text
    assert "1,000 /s (0.97 core)" in text
    assert "statistics overhead" in text and "+15.0% (bar ≤ 10%: NOT met)" in text
    assert "statistics cost +15.0% of the acceptance rate (bar: ≤ 10%): NOT met" in text
    assert "stats off /s" in text  # the per-round column; "—" for the round without it
    assert "—" in text.split("stats off /s", 1)[1]
    met = _printed(_compared(on=950, off=1000))
    assert "+5.0% (bar ≤ 10%: met)" in met
    skipped = _printed(_figures(bare=5000, verify_ms=0.3, accepted=1300))
    assert "statistics off" not in skipped and "statistics cost" not in skipped


def test_the_commands_pass_the_stats_comparison_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []

    def fake_bench(**options: object) -> ExchangeFigures:
        calls.append(options)
        return _compared(on=950, off=1000)

    monkeypatch.setattr(exchange_module, "run_exchange_bench", fake_bench)
    runner = CliRunner()
    default = runner.invoke(app, ["bench", "exchange", "--json"])
    skipped = runner.invoke(app, ["bench", "exchange", "--no-stats-compare", "--json"])
    stats = runner.invoke(app, ["bench", "stats", "--rounds", "3", "--seconds", "1", "--json"])
    table = runner.invoke(app, ["bench", "stats"])
    for result in (default, skipped, stats, table):
        assert result.exit_code == 0, result.output
    assert [c["stats_compare"] for c in calls] == [True, False, True, True]
    # `bench stats` is `bench exchange`'s rounds without the end-to-end part.
    assert (calls[2]["repeat"], calls[2]["seconds"], calls[2]["documents"]) == (3, 1.0, 0)
    assert json.loads(stats.stdout)["stats_overhead_pct"] == 5.0
    assert "statistics off" in table.stdout and "10%: met" in table.stdout


def test_cpu_sampler_share_between_samples() -> None:
    sampler = CpuSampler(os.getpid())
    sampler.samples = [(10.0, 1.0), (11.0, 1.5), (12.0, 2.4)]
    # The nearest samples around the window: 10.0 and 12.0, 1.4 CPU seconds in 2 s.
    assert sampler.share(10.5, 11.9) == pytest.approx(0.7)
    assert sampler.share(10.0, 11.0) == pytest.approx(0.5)
    assert sampler.share(9.0, 11.0) is None  # no sample before the window
    assert sampler.share(11.0, 13.0) is None  # none after it
    assert sampler.share(11.0, 11.0) is None


def test_cpu_sampler_reads_a_live_process() -> None:
    with CpuSampler(os.getpid(), interval=0.05) as sampler:
        start = time.time()
        spent = time.process_time()
        give_up = time.monotonic() + 10
        while time.process_time() - spent < 0.2 and time.monotonic() < give_up:
            sum(range(10_000))  # burn CPU in this process
        end = time.time()
        time.sleep(0.15)  # let a sample land after the window
    share = sampler.share(start, end)
    assert share is not None
    assert share > 0


def test_percentile_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_packages_needed_stays_within_bounds() -> None:
    assert packages_needed(0, seconds=5, warmup=1) == MIN_PACKAGES
    assert packages_needed(1000, seconds=5, warmup=1) == 1000 * 6 * 1.25 + MIN_PACKAGES
    assert packages_needed(10**9, seconds=5, warmup=1) == MAX_PACKAGES


def test_profile_summary_reads_folded_stacks(tmp_path: Path) -> None:
    folded = tmp_path / "hub.folded"
    folded.write_text(
        "main (lgsp/app.py:1);verify (keys/_envelope.py:329);digest (lxml.py:10) 6\n"
        "main (lgsp/app.py:1);commit (sqlalchemy/orm.py:5) 3\n"
        "main (lgsp/app.py:1) 1\n"
        "garbage line\n"
    )
    samples, lines = summarize_profile(folded)
    assert samples == 10
    by_name = {line.function: line for line in lines}
    assert lines[0].function == "digest (lxml.py)"
    assert by_name["digest (lxml.py)"].self_share == pytest.approx(0.6)
    assert by_name["main (lgsp/app.py)"].total_share == pytest.approx(1.0)
    assert by_name["main (lgsp/app.py)"].self_share == pytest.approx(0.1)


def test_profile_keeps_the_event_loop_thread_only(tmp_path: Path) -> None:
    folded = tmp_path / "hub.folded"
    folded.write_text(
        "thread (101): MainThread;run (uvicorn/server.py:1);handle (fastapi/routing.py:2) 3\n"
        "thread (101): MainThread;run (uvicorn/server.py:1) 1\n"
        "thread (202): Thread-1;_connection_worker_thread (aiosqlite/core.py:59) 50\n"
    )
    samples, lines = summarize_profile(folded)
    assert samples == 4
    assert {line.function for line in lines} == {
        "handle (fastapi/routing.py)",
        "run (uvicorn/server.py)",
    }
    assert profile_breakdown(folded)[0] == 4


def test_profile_breakdown_puts_each_stack_in_its_most_specific_part(tmp_path: Path) -> None:
    folded = tmp_path / "hub.folded"
    route = "run (uvicorn/server.py:1);app (fastapi/routing.py:2);submit (lgsp/api/routes/x.py:3)"
    folded.write_text(
        f"{route};verify_envelope (keys/_envelope.py:329);_attempt (edoc/_xml.py:9) 4\n"
        f"{route};_parse (lgsp/intake/service.py:80);parse (edoc/_parse.py:1) 3\n"
        f"{route};store_package (lgsp/store/repository.py:176) 2\n"
        "Session.exec (sqlmodel/orm/session.py:81) 1\n"
        f"{route} 5\n"
        "select (selectors.py:1) 5\n"
    )
    samples, parts = profile_breakdown(folded)
    assert samples == 20
    shares = dict(parts)
    assert shares["envelope verification (keys)"] == pytest.approx(0.2)
    assert shares["edXML parsing (edoc)"] == pytest.approx(0.15)
    assert shares["storage (store, SQLAlchemy, SQLite)"] == pytest.approx(0.15)
    assert shares["HTTP and FastAPI (uvicorn, starlette, routing, JSON)"] == pytest.approx(0.25)
    assert shares["other"] == pytest.approx(0.25)
    assert sum(shares.values()) == pytest.approx(1.0)


# --- the bodies file -----------------------------------------------------------------------


def test_bodies_file_round_trip_and_cut_frame(tmp_path: Path) -> None:
    path = tmp_path / "bodies.bin"
    assert count_bodies(path) == 0
    assert write_bodies(path, [b"one", b"", b"three"]) == 3
    assert write_bodies(path, [b"four"], append=True) == 1
    assert [bytes(v) for v in read_bodies(path)] == [b"one", b"", b"three", b"four"]
    with path.open("ab") as handle:
        handle.write(b"\xff\x00\x00\x00half")  # an interrupted write: ignored
    assert count_bodies(path) == 4


# --- the load generator against a tiny server ------------------------------------------------


async def _tiny_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """201 for a body "ok", 422 with a hub error for "bad", a closed connection for "drop"."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            if body == b"drop":
                writer.close()
                return
            if body == b"bad":
                answer = b'{"error": {"code": "signature_invalid", "message": "no"}}'
                status = b"422 Unprocessable Entity"
            else:
                answer, status = b'{"ok": true}', b"201 Created"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@pytest.fixture
async def tiny_url() -> AsyncIterator[str]:
    """A tiny HTTP/1.1 server on a free port of 127.0.0.1."""
    server = await asyncio.start_server(_tiny_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/v1/packages"
    finally:
        server.close()
        await server.wait_closed()


async def test_load_counts_statuses_and_errors_of_distinct_bodies(
    tiny_url: str, tmp_path: Path
) -> None:
    bodies = tmp_path / "bodies.bin"
    write_bodies(bodies, [b"ok"] * 20 + [b"bad"] * 3 + [b"drop"] + [b"ok"] * 5)
    spec = LoadSpec(
        url=tiny_url,
        concurrency=4,
        seconds=20,
        bodies_file=str(bodies),
        headers={"Authorization": "Bearer x"},
        grace=5,
    )
    result = await asyncio.wait_for(run_load(spec), timeout=30)
    # Every body is sent exactly once; the run ends when they run out, not at the deadline.
    assert result.exhausted
    assert result.sent == 29
    assert result.statuses == {201: 25, 422: 3}
    assert result.window_statuses == {201: 25, 422: 3}
    assert result.completed == 28
    assert result.errors == {"422 signature_invalid": 3, "connection_lost": 1}
    assert result.error_count == 4
    assert result.seconds > 0
    assert result.rate_of(201) == pytest.approx(25 / result.seconds)


async def test_load_repeats_one_body_until_the_deadline(tiny_url: str, tmp_path: Path) -> None:
    body = tmp_path / "body.xml"
    body.write_bytes(b"ok")
    spec = LoadSpec(url=tiny_url, concurrency=2, seconds=0.5, warmup=0.2, body_file=str(body))
    result = await asyncio.wait_for(run_load(spec), timeout=30)
    assert not result.exhausted
    assert result.errors == {}
    assert set(result.statuses) == {201}
    # Warm-up answers are counted as statuses but left out of the measured window.
    assert 0 < result.completed < result.statuses[201]
    assert result.seconds == pytest.approx(0.5)
    assert result.latency_p50_ms > 0


async def test_load_counts_refused_connections(tmp_path: Path) -> None:
    server = await asyncio.start_server(_tiny_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there any more
    body = tmp_path / "body.xml"
    body.write_bytes(b"ok")
    spec = LoadSpec(url=f"http://127.0.0.1:{port}/", concurrency=2, seconds=5, body_file=str(body))
    result = await asyncio.wait_for(run_load(spec), timeout=30)
    assert result.completed == 0
    assert result.statuses == {}
    assert set(result.errors) == {"connect_failed: ConnectionRefusedError"}


def test_load_result_json_round_trip() -> None:
    result = LoadResult(
        completed=3,
        seconds=1.5,
        window_statuses={201: 3},
        statuses={201: 4, 500: 1},
        errors={"500 unknown": 1},
        sent=5,
    )
    assert LoadResult.from_json(json.loads(json.dumps(result.as_json()))) == result
    spec = LoadSpec(url="http://127.0.0.1:1/", concurrency=1, seconds=1, body_file="x")
    assert LoadSpec.from_json(json.loads(json.dumps(spec.as_json()))) == spec


# --- the command, end to end -----------------------------------------------------------------


def _bench_exchange(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`lgsp-sim bench exchange --json` with tiny windows, a private cache and ``options``."""
    return subprocess.run(
        [
            LGSP_SIM,
            "bench",
            "exchange",
            "--json",
            "--seconds",
            "0.3",
            "--warmup",
            "0.2",
            "--concurrency",
            "4",
            "--documents",
            "2",
            "--e2e-concurrency",
            "2",
            "--no-wrk-check",
            "--cache",
            str(tmp_path / "cache"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )


def test_bench_exchange_command_prints_every_key(tmp_path: Path) -> None:
    done = _bench_exchange(tmp_path, "--repeat", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert set(figures) >= REQUIRED_KEYS
    assert figures["documents"] == 2
    assert figures["repeat"] == 2
    assert len(figures["rounds"]) == 2
    assert figures["end_to_end_completed"] == 2
    assert figures["acceptance_errors"] == {}
    assert figures["bare_errors"] == {}
    assert figures["acceptance_accepted"] > 0
    # Statistics on and off, in every round (the default).
    assert figures["acceptance_stats_off_per_s"] > 0
    assert figures["acceptance_stats_off_errors"] == {}
    assert all(r["acceptance_stats_off_per_s"] > 0 for r in figures["rounds"])
    assert isinstance(figures["stats_overhead_pct"], float)
    assert isinstance(figures["stats_overhead_within_bar"], bool)
    assert figures["load_generator"].startswith("raw asyncio")
    assert figures["cpu_count"] >= 1
    assert isinstance(figures["acceptance_bar_met"], bool)
    assert "CPUs, load average" in done.stderr
    # The packages are kept for the next run.
    assert (tmp_path / "cache" / "packages.bin").stat().st_size > 0


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _bench_schemas() -> set[str]:
    import asyncpg

    url = TEST_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(url, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'"
        )
    finally:
        await connection.close()
    return {row["nspname"] for row in rows}


@pytest.mark.postgres
def test_bench_exchange_on_postgresql_leaves_no_schema_behind(tmp_path: Path) -> None:
    before = asyncio.run(_bench_schemas())
    done = _bench_exchange(tmp_path, "--repeat", "1", "--database-url", TEST_DATABASE_URL)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["database"] == "postgresql"
    assert figures["acceptance_accepted"] > 0
    assert figures["acceptance_errors"] == {}
    assert figures["acceptance_stats_off_per_s"] > 0
    assert figures["end_to_end_completed"] == 2
    # Every hub measured (two acceptance hubs, three end-to-end hubs) had its own schema,
    # and each was dropped.
    assert asyncio.run(_bench_schemas()) <= before


def test_bench_exchange_refuses_a_database_url_that_is_not_postgresql(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["bench", "exchange", "--database-url", f"sqlite:///{tmp_path}/x.db", "--documents", "0"],
    )
    assert result.exit_code == 2
    assert "bad_database_url" in result.output
    assert "Traceback" not in result.output
