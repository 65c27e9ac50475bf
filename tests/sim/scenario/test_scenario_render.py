"""What `send` and `demo` print: paths with fan-outs folded, statuses, counters."""

from __future__ import annotations

from rich.console import Console

from sim.runtime import SentDocument, StatusRecord
from sim.scenario.render import (
    flatten,
    offset,
    parse_time,
    path_tree,
    stages_table,
    stats_table,
)
from sim.scenario.track import PathHop, Tracked


def _text(renderable: object) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _doc(recipients: tuple[str, ...], codes: tuple[str, ...]) -> Tracked:
    statuses = tuple(
        StatusRecord(code=c, from_=r, at=f"2025-03-01T01:00:0{i}Z")
        for r in recipients
        for i, c in enumerate(codes)
    )
    doc = Tracked("Directive", "fleet-h56", "000.00.00.H56", "D-1", recipients)
    doc.sent = SentDocument("D-1", "000.00.00.H56", recipients, "", None, statuses)
    return doc


def test_offsets_read_as_durations() -> None:
    origin_text = "2025-03-01T01:00:00Z"
    origin = parse_time(origin_text)
    assert offset("2025-03-01T01:00:00.250Z", origin) == "+250 ms"
    assert offset("2025-03-01T01:00:02.5+00:00", origin) == "+2.50 s"
    assert offset("not a time", origin) == "not a time"


def test_a_fan_out_is_folded_into_one_line_per_event() -> None:
    recipients = tuple(f"000.00.{50 + i}.H56" for i in range(27))
    hops = [PathHop("lgsp-h56", "accepted", "2025-03-01T01:00:00Z", "origin=local")]
    hops += [
        PathHop("lgsp-h56", "delivered", f"2025-03-01T01:00:01.{i:02d}Z", f"recipient={r}")
        for i, r in enumerate(recipients)
    ]
    text = _text(path_tree(_doc(recipients, ("01", "03", "06")), hops))
    assert "origin=local" in text
    assert "×27 (one per recipient)" in text
    assert text.count("recipient=") == 0
    assert "and 19 more recipients (27/27 at 06 in all)" in text


def test_statuses_of_the_sender_hub_win_over_the_fleet() -> None:
    doc = _doc(("000.00.00.H04",), ("01",))
    hub = [StatusRecord("06", "000.00.00.H04", "2025-03-01T01:00:05Z")]
    text = _text(path_tree(doc, [], statuses=hub))
    assert "06 " in text and "01 " not in text.split("statuses back")[1].split("\n", 1)[1]
    assert "no hub reported a hop" in text


def test_counters_flatten_and_zero_rows_go() -> None:
    stats = {
        "lgsp-h56": {"hub_id": "lgsp-h56", "accepted": {"documents": 3, "statuses": 0}, "x": 1.5},
        "ndxp": {"hub_id": "ndxp", "accepted": {"documents": 0, "statuses": 0}},
    }
    assert flatten(stats["lgsp-h56"]) == {"accepted.documents": 3, "accepted.statuses": 0, "x": 1.5}
    text = _text(stats_table("Hubs", stats))
    assert "accepted.documents" in text and "accepted.statuses" not in text
    assert "hub_id" not in text


def test_stages_count_what_came_back() -> None:
    text = _text(stages_table({"directive": [_doc(("A", "B"), ("01", "03"))]}))
    assert "2/2" in text and "0/2" in text
