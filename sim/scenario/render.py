"""Rich renderings shared by `lgsp-sim send` and `demo`: paths, statuses, statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from sim.runtime import StatusRecord
from simtime import VIETNAM_TZ

from .track import PathHop, Tracked, status_table

STATUS_NAMES = {
    "01": "arrived",
    "02": "rejected",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "done",
}


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time from a service, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM_TZ)


def offset(text: str, origin: datetime | None) -> str:
    """``+123 ms`` / ``+1.42 s`` after ``origin``; the time as given when it cannot say."""
    moment = parse_time(text)
    if moment is None or origin is None:
        return text
    seconds = (moment - origin).total_seconds()
    if abs(seconds) < 1:
        return f"+{seconds * 1000:.0f} ms"
    return f"+{seconds:.2f} s"


def clock_time(text: str) -> str:
    """The time of day in Vietnam (HH:MM:SS.mmm), or the text as given."""
    moment = parse_time(text)
    if moment is None:
        return text
    return moment.astimezone(VIETNAM_TZ).strftime("%H:%M:%S.%f")[:-3]


def path_tree(
    doc: Tracked,
    hops: Sequence[PathHop],
    *,
    statuses: Sequence[StatusRecord] | None = None,
    names: Mapping[str, str] | None = None,
) -> Tree:
    """A document's path (each hub's hops with times) and the statuses of each recipient.

    ``statuses``: as the sender's hub recorded them; default: the sender fleet's record.
    """
    names = names or {}
    heading = Text()
    heading.append(doc.label, style="bold")
    heading.append(f"  {doc.sender} → {_recipients(doc.recipients)}", style="dim")
    tree = Tree(heading)
    tree.add(Text(f"DocumentId {doc.document_id}", style="dim"))
    origin = parse_time(hops[0].at) if hops else None
    path = tree.add(Text(f"path ({clock_time(hops[0].at)} first hop)" if hops else "path"))
    if not hops:
        path.add(Text("no hub reported a hop for it", style="yellow"))
    for group in _grouped(hops):
        first, last = group[0], group[-1]
        line = Text()
        line.append(f"{offset(first.at, origin):>10}  ", style="cyan")
        line.append(f"{first.hub_id:<10} ", style="bold")
        line.append(f"{first.event:<10}")
        if len(group) == 1:
            if first.detail:
                line.append(f"  {first.detail}", style="dim")
        else:
            line.append(
                f"  ×{len(group)} (one per recipient), the last at {offset(last.at, origin)}",
                style="dim",
            )
        path.add(line)
    legend = ", ".join(f"{code} {name}" for code, name in STATUS_NAMES.items() if code != "02")
    answers = tree.add(Text.assemble("statuses back to the sender ", (f"({legend})", "dim")))
    rows = status_table(doc, statuses)
    shown = list(rows.items())
    for organ_id, codes in shown[:8]:
        line = Text()
        line.append(f"{organ_id:<15}", style="bold")
        label = names.get(organ_id)
        if label:
            line.append(f" {label[:48]}", style="dim")
        line.append("  ")
        if not codes:
            line.append("nothing yet", style="yellow")
        line.append_text(
            Text("  ").join(
                Text.assemble(
                    (code, "red" if code == "02" else "green"), " ", (offset(at, origin), "dim")
                )
                for code, at in codes
            )
        )
        answers.add(line)
    if len(shown) > 8:
        done = sum(1 for _, codes in shown if {"01", "03", "06"} <= {c for c, _ in codes})
        answers.add(
            Text(f"… and {len(shown) - 8} more recipients ({done}/{len(shown)} at 06 in all)")
        )
    return tree


def _grouped(hops: Sequence[PathHop], *, limit: int = 3) -> list[list[PathHop]]:
    # A fan-out makes one hop per recipient: beyond ``limit`` alike hops, one line says it.
    groups: dict[tuple[str, str], list[PathHop]] = {}
    for hop in hops:
        groups.setdefault((hop.hub_id, hop.event), []).append(hop)
    lines: list[list[PathHop]] = []
    shown: set[tuple[str, str]] = set()
    for hop in hops:
        key = (hop.hub_id, hop.event)
        if len(groups[key]) <= limit:
            lines.append([hop])
        elif key not in shown:
            shown.add(key)
            lines.append(groups[key])
    return lines


def _recipients(recipients: Sequence[str]) -> str:
    if len(recipients) <= 3:
        return ", ".join(recipients)
    return f"{', '.join(recipients[:2])} and {len(recipients) - 2} more"


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested counters as ``a.b.c`` → value (numbers only: ids and times are the headings)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, bool):
            flat[name] = "yes" if value else "no"
        elif isinstance(value, int | float):
            flat[name] = value
    return flat


# Of a hub's ``GET /api/v1/stats``, what a summary table shows: the headline counters, not
# the breakdowns (latency histograms, signing by tier, per agency, per period).
_SUMMARY_SKIP = frozenset({"histogram", "by_tier", "by_block", "by_type", "by_code_and_tier"})
_SUMMARY_TOP_SKIP = frozenset({"filters", "by_agency", "by_period", "throughput", "documents"})


def hub_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """A hub's statistics without their breakdowns, for `stats_table`."""

    def trim(values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: trim(value) if isinstance(value, Mapping) else value
            for key, value in values.items()
            if key not in _SUMMARY_SKIP
        }

    return trim({k: v for k, v in stats.items() if k not in _SUMMARY_TOP_SKIP})


def stats_table(title: str, stats: Mapping[str, Mapping[str, Any]]) -> Table:
    """One column per service, one row per counter it reports (zero rows left out)."""
    flat = {name: flatten(values) for name, values in stats.items()}
    keys: list[str] = []
    for values in flat.values():
        for key in values:
            if key not in keys:
                keys.append(key)
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("counter")
    for name in flat:
        table.add_column(name, justify="right")
    for key in keys:
        cells = [flat[name].get(key) for name in flat]
        if all(cell in (None, 0, 0.0, "") for cell in cells):
            continue
        table.add_row(key, *(_cell(c) for c in cells))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def stages_table(stages: Mapping[str, Sequence[Tracked]]) -> Table:
    """Per stage of a scenario: documents, recipients, and how many reached each status."""
    table = Table(title="Documents and the statuses that came back", title_justify="left")
    table.add_column("stage")
    table.add_column("documents", justify="right")
    table.add_column("recipients", justify="right")
    for code in ("01", "03", "06", "02"):
        table.add_column(f"{code} {STATUS_NAMES[code]}", justify="right")
    for stage, documents in stages.items():
        pairs = [(d, r) for d in documents for r in d.recipients]
        total = len(pairs)
        cells = []
        for code in ("01", "03", "06", "02"):
            count = sum(code in d.codes_from(r) for d, r in pairs)
            if code == "02":
                cells.append(Text(str(count), style="red" if count else "dim"))
            else:
                cells.append(Text(f"{count}/{total}", style="green" if count == total else "red"))
        table.add_row(stage, str(len(documents)), str(total), *cells)
    return table
