"""Rich renderings shared by `lgsp-sim send` and `demo`: paths, statuses, statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

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
    doc: Tracked, hops: Sequence[PathHop], *, names: Mapping[str, str] | None = None
) -> Tree:
    """A document's path (each hub's hops with times) and the statuses of each recipient."""
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
    for hop in hops:
        line = Text()
        line.append(f"{offset(hop.at, origin):>10}  ", style="cyan")
        line.append(f"{hop.hub_id:<10} ", style="bold")
        line.append(hop.event)
        if hop.detail:
            line.append(f"  {hop.detail}", style="dim")
        path.add(line)
    statuses = tree.add(Text("statuses back to the sender"))
    rows = status_table(doc)
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
        for code, at in codes:
            style = "red" if code == "02" else "green"
            line.append(f"{code} ", style=style)
            line.append(f"{offset(at, origin)}  ", style="dim")
        statuses.add(line)
    if len(shown) > 8:
        done = sum(1 for _, codes in shown if {"01", "03", "06"} <= {c for c, _ in codes})
        statuses.add(
            Text(f"… and {len(shown) - 8} more recipients ({done}/{len(shown)} at 06 in all)")
        )
    return tree


def _recipients(recipients: Sequence[str]) -> str:
    if len(recipients) <= 3:
        return ", ".join(recipients)
    return f"{', '.join(recipients[:2])} and {len(recipients) - 2} more"


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested counters as ``a.b.c`` → value (numbers and short strings only)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, bool):
            flat[name] = "yes" if value else "no"
        elif isinstance(value, int | float) or (isinstance(value, str) and len(value) <= 24):
            flat[name] = value
    return flat


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


def documents_table(documents: Iterable[Tracked]) -> Table:
    """Per document: recipients and how many reached each wanted status."""
    table = Table(title="Documents and their statuses", title_justify="left")
    table.add_column("document")
    table.add_column("from")
    table.add_column("to", justify="right")
    for code in ("01", "03", "06", "02"):
        table.add_column(f"{code} {STATUS_NAMES[code]}", justify="right")
    for doc in documents:
        counts = {
            code: sum(code in doc.codes_from(r) for r in doc.recipients)
            for code in ("01", "03", "06", "02")
        }
        total = len(doc.recipients)
        cells = []
        for code, count in counts.items():
            style = "green" if count == total and code != "02" else ""
            if code == "02":
                style = "red" if count else "dim"
            cells.append(Text(f"{count}/{total}" if code != "02" else str(count), style=style))
        table.add_row(Text(doc.label), Text(doc.sender), str(total), *cells)
    return table


def group(*parts: RenderableType) -> Group:
    """Several renderables printed as one."""
    return Group(*parts)
