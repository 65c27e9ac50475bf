"""The report as one self-contained HTML page: tables and inline SVG charts, no external asset."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

_WIDTH = 760
_HEIGHT = 260
_PAD_LEFT = 56
_PAD_BOTTOM = 36
_PAD_TOP = 16
_COLOURS = ("#1f6feb", "#d97706", "#059669", "#9333ea")
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:820px;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#57606a;margin-top:0}table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid #d0d7de;text-align:right}
th:first-child,td:first-child{text-align:left}.ok{color:#1a7f37}.off{color:#cf222e}
.note{color:#57606a;font-size:.85rem}svg{background:#f6f8fa;border-radius:6px}
.legend span{display:inline-block;margin-right:1rem;font-size:.85rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any, name: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and ("rate" in name or "online" in name or value <= 1.0):
        return f"{value:.2%}"
    if isinstance(value, int | float):
        return f"{value:,.0f}"
    return _e(value)


def nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above ``value`` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def weekly(values: Mapping[str, float]) -> dict[str, float]:
    """Daily values (``YYYY-MM-DD`` keys) added up by week, keyed by the week's Monday."""
    weeks: dict[str, float] = {}
    for key, value in values.items():
        day = date.fromisoformat(key[:10])
        monday = (day - timedelta(days=day.weekday())).isoformat()
        weeks[monday] = weeks.get(monday, 0.0) + value
    return dict(sorted(weeks.items()))


def _axis_ticks(low: float, high: float, count: int = 6) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _frame(y_low: float, y_high: float, *, percent: bool) -> tuple[list[str], float, float]:
    """Axes and grid lines; returns (svg parts, plot width, plot height)."""
    width = _WIDTH - _PAD_LEFT - 12
    height = _HEIGHT - _PAD_TOP - _PAD_BOTTOM
    parts = []
    for tick in _axis_ticks(y_low, y_high):
        y = _PAD_TOP + height - (tick - y_low) / ((y_high - y_low) or 1) * height
        label = f"{tick:.0%}" if percent else f"{tick:,.0f}"
        parts.append(
            f'<line x1="{_PAD_LEFT}" x2="{_PAD_LEFT + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>'
        )
    return parts, width, height


def _svg(parts: Sequence[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{_e(title)}">'
        + "".join(parts)
        + "</svg>"
    )


def _legend(names: Sequence[str]) -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{_COLOURS[i]}"></i>{_e(n)}</span>'
            for i, n in enumerate(names)
        )
        + "</p>"
    )


def line_chart(series: Mapping[str, Mapping[str, float]], *, title: str) -> str:
    """Lines over dated keys (``YYYY-MM-DD``), one per series, on a shared axis."""
    keys = sorted({k for values in series.values() for k in values})
    if not keys:
        return "<p class='note'>No data.</p>"
    top = nice_top(max((v for values in series.values() for v in values.values()), default=1.0))
    parts, width, height = _frame(0.0, top, percent=False)
    first, last = date.fromisoformat(keys[0][:10]), date.fromisoformat(keys[-1][:10])
    span = max((last - first).days, 1)

    def x_of(key: str) -> float:
        return _PAD_LEFT + (date.fromisoformat(key[:10]) - first).days / span * width

    for index, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{x_of(k):.1f},{_PAD_TOP + height - values.get(k, 0.0) / top * height:.1f}"
            for k in keys
        )
        parts.append(
            f'<polyline fill="none" stroke="{_COLOURS[index % 4]}" stroke-width="1.5" points="{points}">'
            f"<title>{_e(name)}</title></polyline>"
        )
    for month in range(1, 13):
        moment = date(first.year, month, 1)
        if first <= moment <= last:
            x = _PAD_LEFT + (moment - first).days / span * width
            parts.append(f'<text x="{x:.1f}" y="{_HEIGHT - 14}" font-size="11">{moment:%m}</text>')
    return _svg(parts, title) + _legend(list(series))


def bar_chart(
    groups: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    percent: bool = False,
    intervals: Mapping[str, Mapping[str, Sequence[float] | None]] | None = None,
    floor: float | None = None,
) -> str:
    """Grouped bars: one group per key, one bar per series; optional interval whiskers."""
    names = list(dict.fromkeys(n for values in groups.values() for n in values))
    if not groups or not names:
        return "<p class='note'>No data.</p>"
    values = [v for g in groups.values() for v in g.values() if v is not None]
    high = 1.0 if percent else nice_top(max(values, default=1.0))
    low = floor if floor is not None else 0.0
    parts, width, height = _frame(low, high, percent=percent)
    slot = width / len(groups)
    bar = slot * 0.8 / len(names)

    def y_of(value: float) -> float:
        clipped = min(max(value, low), high)
        return _PAD_TOP + height - (clipped - low) / ((high - low) or 1) * height

    for g_index, (group, series) in enumerate(groups.items()):
        left = _PAD_LEFT + g_index * slot + slot * 0.1
        for s_index, name in enumerate(names):
            value = series.get(name)
            if value is None:
                continue
            x = left + s_index * bar
            y = y_of(value)
            label = f"{value:.2%}" if percent else f"{value:,.0f}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" height="{_PAD_TOP + height - y:.1f}" '
                f'fill="{_COLOURS[s_index % 4]}"><title>{_e(group)} {_e(name)}: {label}</title></rect>'
            )
            interval = (intervals or {}).get(group, {}).get(name)
            if interval:
                cx = x + bar * 0.45
                parts.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y_of(interval[0]):.1f}" y2="{y_of(interval[1]):.1f}" '
                    'stroke="#1b1f24" stroke-width="1.2"/>'
                )
        parts.append(
            f'<text x="{left + slot * 0.4:.1f}" y="{_HEIGHT - 14}" font-size="11" text-anchor="middle">{_e(group)}</text>'
        )
    return _svg(parts, title) + _legend(names)


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report page."""
    scenario, run = report["scenario"], report["run"]
    rows = []
    for item in report["comparison"]:
        interval = item.get("interval")
        within = item.get("reported_within_interval")
        mark = (
            ""
            if within is None
            else ("<span class='ok'>yes</span>" if within else "<span class='off'>no</span>")
        )
        shown_interval = f"{interval[0]:.2%} – {interval[1]:.2%}" if interval else "—"
        rows.append(
            f"<tr><td>{_e(item['figure'])}<div class='note'>{_e(item.get('note', ''))}</div></td>"
            f"<td>{_fmt(item['reported'], item['figure'])}</td><td>{_fmt(item['measured'], item['figure'])}</td>"
            f"<td>{shown_interval}</td><td>{mark}</td></tr>"
        )
    scale = run["scale"]
    by_month = report["series"]["by_month"]
    months = {
        key: {
            "documents sent (scaled to the year)": counts.get("documents_sent", 0) / scale,
            "exchange events (scaled)": counts.get("exchange_events", 0) / scale,
        }
        for key, counts in by_month.items()
    }
    by_day = report["series"]["by_day"]
    daily = {
        "documents sent per week": weekly(
            {k: float(v.get("documents_sent", 0)) for k, v in by_day.items()}
        ),
        "statuses sent per week": weekly(
            {k: float(v.get("statuses_sent", 0)) for k, v in by_day.items()}
        ),
    }
    tiers = report["series"]["signing_by_tier"]
    tier_rates = {
        t: {"personal": g["personal_rate"], "agency": g["agency_rate"]} for t, g in tiers.items()
    }
    tier_intervals = {
        t: {"personal": g.get("personal_interval"), "agency": g.get("agency_interval")}
        for t, g in tiers.items()
    }
    lows = [i[0] for g in tier_intervals.values() for i in g.values() if i]
    floor = max(0.0, round(min(lows, default=0.0) - 0.05, 1))
    notes = "".join(f"<li>{_e(n)}</li>" for n in scenario.get("notes", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(scenario["title"])}: measured beside reported</title>
<style>{_STYLE}</style></head><body>
<h1>{_e(scenario["title"])}</h1>
<p class="sub">{_e(scenario["source"])}</p>
<p>A simulated year ({scenario["year"]}) of the {_e(scenario["topology"])} topology at scale {scale:g}:
{run["sent"]:,} documents sent ({_e(scenario["volume_note"])}), the year compressed {run["clock_rate"]:,.0f}×
into {run["wall_seconds"]:.0f} s of real time. Signatures are applied with probability
{scenario["personal_signing_probability"]:.2%} (personal) and {scenario["agency_signing_probability"]:.2%} (agency);
the rates below are what the hubs' verification found in the stored documents.</p>
<h2>Reported and measured</h2>
<table><tr><th>figure</th><th>reported</th><th>measured</th><th>95% interval (Wilson)</th><th>reported inside</th></tr>
{"".join(rows)}</table>
<p class="note">Counts are scaled to the full year (measured ÷ {scale:g}); intervals are given for rates.</p>
<h2>Throughput over the year</h2>
{line_chart(daily, title="Documents and statuses sent per simulated week")}
<h2>Signing rate by the sender's tier</h2>
{bar_chart(tier_rates, title="Signing rate by tier", percent=True, intervals=tier_intervals, floor=floor)}
<p class="note">Whiskers: 95% Wilson intervals; the axis starts at {floor:.0%}.</p>
<h2>Volumes by month</h2>
{bar_chart(months, title="Volumes by month (scaled to the year)")}
<h2>Notes</h2><ul>{notes}</ul>
<p class="note">Run: {run["documents_planned"]:,} documents planned, {run["sent"]:,} accepted, refused {_e(run["refused"] or "none")},
settled {"yes" if run["settled"] else "NO"}, largest sending lag {run["max_lag_hours"]} simulated hours.</p>
</body></html>
"""
