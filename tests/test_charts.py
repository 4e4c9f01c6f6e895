"""bot/console/charts.py: the SVG must parse, carry the data faithfully and survive odd input."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from bot.console.charts import bar_chart, line_chart

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything not well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def points_of(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.get("cx")), float(c.get("cy"))) for c in root.iterfind(".//s:circle", NS)]


def bars_of(root: ET.Element) -> list[float]:
    return [float(r.get("width")) for r in root.iterfind(".//s:rect[@class='bar']", NS)]


def texts(root: ET.Element, cls: str) -> list[str]:
    return [t.text or "" for t in root.iterfind(f".//s:text[@class='{cls}']", NS)]


def month(values: list[float | None]) -> list[tuple[str, float | None]]:
    return [(f"11-{day:02d}", v) for day, v in enumerate(values, start=1)]


# -- line chart ---------------------------------------------------------------------------------

def test_line_chart_has_one_point_per_value_and_heights_proportional() -> None:
    values = [float(v) for v in range(0, 100, 10)] + [100.0]
    root = parse(line_chart(month(values), title="近 30 天打卡率"))
    pts = points_of(root)
    assert len(pts) == len(values)
    # y grows downwards: y = bottom - value * k; recover bottom from 0% and k from 100%.
    bottom = pts[0][1]
    k = (bottom - pts[-1][1]) / 100
    assert k > 0
    for (_, y), v in zip(pts, values, strict=True):
        assert math.isclose(bottom - y, v * k, abs_tol=0.02)
    xs = [x for x, _ in pts]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # the line is drawn through all of them
    path = root.find(".//s:path[@class='line']", NS)
    assert path is not None and path.get("d").count("L") == len(values) - 1


def test_line_chart_is_accessible_and_scales_by_viewbox() -> None:
    root = parse(line_chart(month([50, 75]), title="打卡率", chart_id="trend"))
    assert root.get("viewBox", "").startswith("0 0 ")
    # Its natural size is the viewBox's (text drawn at 15 px); the page only shrinks it.
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    sizes = {float(t.get("font-size")) for t in root.iterfind(".//s:text", NS)}
    assert sizes and min(sizes) >= 15
    assert root.get("role") == "img"
    assert root.find("s:title", NS).text == "打卡率"
    desc = root.find("s:desc", NS).text
    assert "最高 75%" in desc and "最低 50%" in desc and "11-01" in desc
    assert root.get("aria-labelledby") == "trend-title trend-desc"


def test_line_chart_labels_only_a_few_days_but_always_first_and_last() -> None:
    root = parse(line_chart(month([50.0] * 30), title="t"))
    labels = texts(root, "x-label")
    assert labels[0] == "11-01" and labels[-1] == "11-30"
    assert 2 <= len(labels) <= 6
    assert len(points_of(root)) == 30


def test_line_chart_empty_says_so() -> None:
    root = parse(line_chart([], title="近 30 天打卡率"))
    assert texts(root, "empty") == ["暂无数据"]
    assert points_of(root) == []


def test_line_chart_one_point_sits_in_the_middle() -> None:
    root = parse(line_chart([("11-23", 40)], title="t"))
    (x, _), = points_of(root)
    left, _, width, _ = (float(v) for v in root.get("viewBox").split())
    assert left < x < width and not root.findall(".//s:path", NS)  # a dot, no line to draw


def test_line_chart_all_zero_and_non_percent_units() -> None:
    root = parse(line_chart(month([0, 0, 0]), title="t", unit="人"))
    ys = {y for _, y in points_of(root)}
    assert len(ys) == 1  # all on the baseline, no division by zero
    root = parse(line_chart(month([3, 7]), title="t", unit="人"))
    assert texts(root, "tick")[-1] == "10人"  # a round top above the largest value


def test_line_chart_none_is_a_gap() -> None:
    root = parse(line_chart(month([10, 20, None, 30, 40]), title="t"))
    assert len(points_of(root)) == 4
    paths = root.findall(".//s:path[@class='line']", NS)
    assert len(paths) == 2


def test_line_chart_over_100_percent_extends_the_axis() -> None:
    root = parse(line_chart(month([50, 120]), title="t"))
    pts = points_of(root)
    top = float(root.get("viewBox").split()[3])
    assert all(0 <= y <= top for _, y in pts)
    assert texts(root, "tick")[-1] == "120%"


def test_line_chart_escapes_labels_and_title() -> None:
    svg = line_chart([("<b>&", 10), ("x\"'", 20)], title="a<b>&c", desc="d&<")
    root = parse(svg)
    assert root.find("s:title", NS).text == "a<b>&c"
    assert root.find("s:desc", NS).text == "d&<"
    assert "<b>" not in svg.replace("&lt;b&gt;", "")
    assert "<b>&" in texts(root, "x-label")


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_line_chart_refuses_bad_values(bad: float) -> None:
    with pytest.raises(ValueError):
        line_chart([("a", 1), ("b", bad)], title="t")


def test_charts_refuse_non_numbers() -> None:
    with pytest.raises(TypeError):
        line_chart([("a", "50")], title="t")  # type: ignore[list-item]
    with pytest.raises(TypeError):
        bar_chart([("a", True)], title="t")
    with pytest.raises(TypeError):
        bar_chart([(3, 5)], title="t")  # type: ignore[list-item]


# -- bar chart ----------------------------------------------------------------------------------

BRANCHES = [("第一党支部", 85.0), ("第二党支部", 60.0), ("机关第三党支部", 0.0),
            ("第四党支部", 100.0)]


def test_bar_chart_one_bar_per_row_widths_proportional() -> None:
    root = parse(bar_chart(BRANCHES, title="本月完成率"))
    widths = bars_of(root)
    assert len(widths) == 4
    full = widths[3]  # 100%
    assert full > 0 and widths[2] == 0
    for width, (_, v) in zip(widths, BRANCHES, strict=True):
        assert math.isclose(width, full * v / 100, abs_tol=0.02)
    assert texts(root, "label") == [name for name, _ in BRANCHES]
    assert texts(root, "value") == ["85%", "60%", "0%", "100%"]
    # each row has a tooltip naming the branch and its value
    titles = [g.find("s:title", NS).text for g in root.iterfind(".//s:g[@class='bar-row']", NS)]
    assert titles[0] == "第一党支部：85%"


def test_bar_chart_grows_taller_with_rows() -> None:
    short = parse(bar_chart(BRANCHES[:1], title="t"))
    tall = parse(bar_chart(BRANCHES * 5, title="t"))
    h = lambda r: float(r.get("viewBox").split()[3])  # noqa: E731
    assert h(tall) > h(short) * 10
    assert len(bars_of(tall)) == 20
    # rows never overlap: label baselines strictly increase
    ys = [float(t.get("y")) for t in tall.iterfind(".//s:text[@class='label']", NS)]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    assert max(ys) < h(tall)


def test_bar_chart_long_label_is_shortened_but_kept_in_title() -> None:
    name = "中共某某市某某区人民政府办公室机关第二党支部（综合处、秘书处、督查处、信息处联合支部）"
    root = parse(bar_chart([(name, 42.5)], title="t"))
    (label,) = texts(root, "label")
    assert label.endswith("…") and len(label) < len(name)
    assert name.startswith(label[:-1])
    assert root.find(".//s:g/s:title", NS).text == f"{name}：42.5%"
    assert texts(root, "value") == ["42.5%"]


def test_bar_chart_empty_and_no_data_rows() -> None:
    root = parse(bar_chart([], title="本月完成率"))
    assert texts(root, "empty") == ["暂无数据"] and bars_of(root) == []
    root = parse(bar_chart([("空支部", None), ("第一党支部", 50)], title="t"))
    assert bars_of(root)[0] == 0
    assert texts(root, "value") == ["无数据", "50%"]


def test_bar_chart_counts_scale_to_largest_and_all_zero_is_fine() -> None:
    root = parse(bar_chart([("a", 5), ("b", 10)], title="t", unit="人"))
    a, b = bars_of(root)
    assert math.isclose(a * 2, b, abs_tol=0.02) and b > 0
    assert texts(root, "value") == ["5人", "10人"]
    root = parse(bar_chart([("a", 0), ("b", 0)], title="t", unit="人"))
    assert bars_of(root) == [0, 0]


def test_bar_chart_over_the_scale_is_capped_but_reports_the_real_value() -> None:
    root = parse(bar_chart([("a", 100), ("b", 150)], title="t", max_value=100))
    a, b = bars_of(root)
    assert a == b
    assert texts(root, "value")[1] == "150%"


def test_bar_chart_escapes_labels() -> None:
    svg = bar_chart([("<script>&alert", 50)], title="<t>")
    root = parse(svg)
    assert "<script>" not in svg
    assert texts(root, "label") == ["<script>&alert"]
    assert root.find("s:title", NS).text == "<t>"


def test_two_charts_on_one_page_get_distinct_ids() -> None:
    a = parse(bar_chart(BRANCHES, title="t", chart_id="by-branch"))
    b = parse(bar_chart(BRANCHES, title="t", chart_id="by group!"))
    ida = a.find("s:title", NS).get("id")
    idb = b.find("s:title", NS).get("id")
    assert ida != idb and " " not in idb and "!" not in idb
