"""Server-side SVG charts for the console: pure functions from data to an SVG string.

No JavaScript and no library: an office network may have no internet, and an inline SVG with a
viewBox scales to a phone's width by itself. Every chart carries <title> and <desc> (read by
screen readers; the desc says the numbers in words) and text labels, so it is readable without
colour. All text from data is XML-escaped here, so callers may pass it raw and mark the result safe.

A value of None means "no data" (a day before anyone joined, a branch with no members): the line
chart leaves a gap, the bar chart shows 「无数据」. Negative, NaN and infinite values are refused.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from html import escape

Number = float | int
Point = tuple[str, Number | None]

# Sizes are CSS pixels at the chart's natural width (the SVG's width attribute); the console's
# stylesheet only lets a chart shrink (max-width: 100%), and on a 390 px phone it has about
# 340 px, so text drawn at 15 stays at least 11 px there (tests/test_pages_browser.py measures).
TEXT_SIZE = 15
LINE_W, LINE_H = 400, 210
LINE_MARGIN = {"left": 50, "right": 14, "top": 14, "bottom": 30}
MAX_X_LABELS = 5  # more would overlap

BAR_W = 400
BAR_PAD = 8
BAR_VALUE_SPACE = 60  # room right of the longest bar for its value
BAR_ROW_H = 48
BAR_THICK = 16
LABEL_SIZE = TEXT_SIZE
MAX_LABEL_EMS = (BAR_W - 2 * BAR_PAD) / TEXT_SIZE  # longer labels are shortened with …

EMPTY_TEXT = "暂无数据"
NO_DATA_TEXT = "无数据"


def line_chart(points: Sequence[Point], *, title: str, desc: str | None = None,
               unit: str = "%", y_max: Number | None = None, chart_id: str = "line") -> str:
    """A line through `points` (label, value) in order, e.g. 30 days of check-in rates.

    The y axis starts at 0 and ends at `y_max`: by default 100 for "%" (or the largest value if
    higher), otherwise a round number above the largest value.
    """
    values = _checked_values(points)
    cid = _safe_id(chart_id)
    if not points:
        return _empty(cid, title, desc, LINE_W, LINE_H)
    top = _axis_top(values, unit, y_max)
    left, right = LINE_MARGIN["left"], LINE_W - LINE_MARGIN["right"]
    plot_top, plot_bottom = LINE_MARGIN["top"], LINE_H - LINE_MARGIN["bottom"]
    xs = _spread(len(points), left, right)

    def y_of(value: Number) -> float:
        return plot_bottom - (value / top) * (plot_bottom - plot_top)

    parts = [_open(cid, title, desc or _line_desc(points, unit), LINE_W, LINE_H, "line")]
    parts += _y_grid(top, unit, left, right, y_of)
    parts += _x_labels(points, xs, plot_bottom + 21)
    for segment in _segments(points, xs, y_of):
        parts.append(f'<path class="line" d="{segment}" fill="none" stroke="currentColor" '
                     'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>')
    for (label, value), x in zip(points, xs, strict=True):
        if value is None:
            continue
        parts.append(f'<circle class="point" cx="{_n(x)}" cy="{_n(y_of(value))}" r="3.5" '
                     f'fill="currentColor" data-value="{_n(value)}">'
                     f"<title>{escape(label)}：{_fmt(value, unit)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(rows: Sequence[Point], *, title: str, desc: str | None = None, unit: str = "%",
              max_value: Number | None = None, chart_id: str = "bars") -> str:
    """Horizontal bars, one per (label, value), in the order given.

    Each label sits on its own line above its bar, so a long branch name keeps the full width of
    a phone's screen; labels longer than that are shortened with … (the full text stays in the
    bar's <title>). Bars are scaled to `max_value`: by default 100 for "%" (or the largest value
    if higher), otherwise the largest value.
    """
    values = _checked_values(rows)
    cid = _safe_id(chart_id)
    height = BAR_PAD * 2 + BAR_ROW_H * len(rows)
    if not rows:
        return _empty(cid, title, desc, BAR_W, 80)
    present = [v for v in values if v is not None]
    scale = max_value if max_value is not None else (
        max([100.0, *present]) if unit == "%" else max(present, default=0))
    if scale <= 0:
        scale = 1  # all zero: every bar is empty, not a division by zero
    span = BAR_W - 2 * BAR_PAD - BAR_VALUE_SPACE
    parts = [_open(cid, title, desc or _bar_desc(rows, unit), BAR_W, height, "bars")]
    for i, (label, value) in enumerate(rows):
        top = BAR_PAD + i * BAR_ROW_H
        bar_y = top + LABEL_SIZE + 8
        shown = value if value is not None else 0
        width = span * min(shown, scale) / scale
        text = _fmt(value, unit) if value is not None else NO_DATA_TEXT
        parts.append(f'<g class="bar-row"><title>{escape(label)}：{escape(text)}</title>')
        parts.append(f'<text class="label" x="{BAR_PAD}" y="{top + LABEL_SIZE}" '
                     f'font-size="{LABEL_SIZE}">{escape(_shorten(label, MAX_LABEL_EMS))}</text>')
        parts.append(f'<rect class="track" x="{BAR_PAD}" y="{bar_y}" width="{_n(span)}" '
                     f'height="{BAR_THICK}" rx="3" fill="currentColor" fill-opacity="0.08"/>')
        parts.append(f'<rect class="bar" x="{BAR_PAD}" y="{bar_y}" width="{_n(width)}" '
                     f'height="{BAR_THICK}" rx="3" fill="currentColor" data-value="{_n(shown)}"/>')
        parts.append(f'<text class="value" x="{_n(BAR_PAD + width + 6)}" '
                     f'y="{bar_y + BAR_THICK - 3}" font-size="{LABEL_SIZE}">{escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


# -- building blocks -------------------------------------------------------------------------

def _open(cid: str, title: str, desc: str, width: int, height: int, kind: str) -> str:
    # width/height: the natural size, in CSS pixels (text at TEXT_SIZE); the page may shrink
    # it to fit, and the viewBox keeps its aspect.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{cid}-title {cid}-desc" preserveAspectRatio="xMidYMid meet">'
            f'<title id="{cid}-title">{escape(title)}</title>'
            f'<desc id="{cid}-desc">{escape(desc)}</desc>')


def _empty(cid: str, title: str, desc: str | None, width: int, height: int) -> str:
    return (_open(cid, title, desc or EMPTY_TEXT, width, height, "empty")
            + f'<text class="empty" x="{width // 2}" y="{height // 2}" text-anchor="middle" '
            f'dominant-baseline="middle" font-size="{LABEL_SIZE}">{EMPTY_TEXT}</text></svg>')


def _y_grid(top: float, unit: str, left: float, right: float, y_of) -> list[str]:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = _n(y_of(value))
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}" '
                     'stroke="currentColor" stroke-opacity="0.15"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y}" text-anchor="end" '
                     f'dominant-baseline="middle" font-size="{TEXT_SIZE}">{escape(_fmt(value, unit))}'
                     '</text>')
    return parts


def _x_labels(points: Sequence[Point], xs: list[float], y: float) -> list[str]:
    """Label the first and last point and a few evenly spaced ones between."""
    n = len(points)
    step = max(1, math.ceil((n - 1) / (MAX_X_LABELS - 1))) if n > 1 else 1
    chosen = sorted({*range(0, n, step), n - 1})
    if len(chosen) > 2 and chosen[-1] - chosen[-2] < step * 0.8:
        del chosen[-2]  # the last regular label would touch the final (right-aligned) one
    parts = []
    for i in chosen:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(f'<text class="x-label" x="{_n(xs[i])}" y="{y}" text-anchor="{anchor}" '
                     f'font-size="{TEXT_SIZE}">{escape(_shorten(points[i][0], 8))}</text>')
    return parts


def _segments(points: Sequence[Point], xs: list[float], y_of) -> list[str]:
    """Path data for each run of consecutive points with data; a None breaks the line."""
    runs: list[list[str]] = [[]]
    for (_, value), x in zip(points, xs, strict=True):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{_n(x)},{_n(y_of(value))}")
    return ["M" + " L".join(run) for run in runs if len(run) > 1]


def _spread(n: int, left: float, right: float) -> list[float]:
    if n == 1:
        return [(left + right) / 2]
    return [left + (right - left) * i / (n - 1) for i in range(n)]


def _axis_top(values: list[Number | None], unit: str, y_max: Number | None) -> float:
    present = [v for v in values if v is not None]
    if y_max is not None:
        return float(max([y_max, *present]))
    highest = max(present, default=0)
    if unit == "%":
        return float(max(100, highest))
    return _nice_ceiling(highest)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 4, 5 or 10 times a power of ten that is >= value (1 for zero)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 4, 5, 10):
        if factor * power >= value:
            return float(factor * power)
    return float(10 * power)


def _checked_values(points: Sequence[Point]) -> list[Number | None]:
    values = []
    for label, value in points:
        if not isinstance(label, str):
            raise TypeError(f"chart label must be text, got {label!r}")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"chart value for {label!r} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"chart value for {label!r} must be finite and >= 0: {value!r}")
        values.append(value)
    return values


def _line_desc(points: Sequence[Point], unit: str) -> str:
    present = [(label, v) for label, v in points if v is not None]
    if not present:
        return f"{points[0][0]} 至 {points[-1][0]}：{NO_DATA_TEXT}"
    low = min(present, key=lambda p: p[1])
    high = max(present, key=lambda p: p[1])
    last = present[-1]
    return (f"{points[0][0]} 至 {points[-1][0]}，共 {len(points)} 个点；"
            f"最高 {_fmt(high[1], unit)}（{high[0]}），最低 {_fmt(low[1], unit)}（{low[0]}），"
            f"最近 {_fmt(last[1], unit)}（{last[0]}）")


def _bar_desc(rows: Sequence[Point], unit: str) -> str:
    return "；".join(f"{label} {_fmt(v, unit) if v is not None else NO_DATA_TEXT}"
                    for label, v in rows)


def _fmt(value: Number, unit: str) -> str:
    """85 -> "85%", 85.25 -> "85.3%": one decimal at most, no trailing zeros."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text}{unit}"


def _n(x: float) -> str:
    """Coordinates with two decimals at most, so the SVG stays small."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _text_ems(text: str) -> float:
    """Rough width in ems: full-width (CJK) characters 1, others about half."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.55 for c in text)


def _shorten(text: str, max_ems: float) -> str:
    if _text_ems(text) <= max_ems:
        return text
    out, used = [], 1.0  # room for the ellipsis
    for c in text:
        used += _text_ems(c)
        if used > max_ems:
            break
        out.append(c)
    return "".join(out) + "…"


def _safe_id(chart_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) or "chart"
    return cleaned if cleaned[0].isalpha() else f"c-{cleaned}"
