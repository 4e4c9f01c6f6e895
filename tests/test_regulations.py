"""The regulation splitter: real texts from ../shared, hand-written quirks, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.regulations import (
    Article,
    ParsedRegulation,
    RegulationError,
    chinese_numeral_to_int,
    int_to_chinese_numeral,
    parse_regulation,
    read_regulation_file,
    summary,
)
from tests.paths import REGULATIONS

DISCIPLINE = "中国共产党纪律处分条例_2023.md"
INTEGRITY = "中国共产党廉洁自律准则.md"
ACCOUNTABILITY = "中国共产党问责条例.md"
SUPERVISION = "监察法(2024-12-25).md"

HEADING_LINE = re.compile(r"^第[零〇一二两三四五六七八九十百千0-9]+[编章节]")
IS = "\u3000"  # ideographic space, the usual indentation and label separator


def load(name: str) -> ParsedRegulation:
    path = REGULATIONS / name
    return parse_regulation(read_regulation_file(path), filename=path.name)


def by_key(parsed: ParsedRegulation) -> dict[str, Article]:
    return {a.key: a for a in parsed.articles}


# --------------------------------------------------------------------------- real texts


@pytest.mark.parametrize(
    ("name", "count", "title", "version", "parts", "chapters"),
    [
        (DISCIPLINE, 158, "中国共产党纪律处分条例", "2023", 3, 11),
        (INTEGRITY, 8, "中国共产党廉洁自律准则", None, 0, 0),
        (ACCOUNTABILITY, 13, "中国共产党问责条例", "2016", 0, 0),
        (SUPERVISION, 78, "中华人民共和国监察法", "2024", 0, 9),
    ],
)
def test_real_text_counts_title_version(
    name: str, count: int, title: str, version: str | None, parts: int, chapters: int
) -> None:
    parsed = load(name)
    assert len(parsed.articles) == count
    assert [a.number for a in parsed.articles] == list(range(1, count + 1))
    assert all(a.sub == 0 for a in parsed.articles)
    assert parsed.articles[-1].article_no == f"第{int_to_chinese_numeral(count)}条"
    assert parsed.title == title
    assert parsed.version == version
    assert len(parsed.parts()) == parts
    assert len(parsed.chapters()) == chapters
    assert parsed.warnings == ()


@pytest.mark.parametrize("name", [DISCIPLINE, INTEGRITY, ACCOUNTABILITY, SUPERVISION])
def test_real_text_bodies_hold_no_headings_or_markup(name: str) -> None:
    parsed = load(name)
    headings = set(parsed.parts()) | set(parsed.chapters()) | set(parsed.sections())
    for article in parsed.articles:
        assert article.body, article.article_no
        for line in article.body.split("\n"):
            assert not HEADING_LINE.match(line), (article.article_no, line)
            assert line not in headings, (article.article_no, line)
            assert not line.startswith(("#", IS, " ", "第")), (article.article_no, line)
            assert "<!--" not in line and "INFO END" not in line


def test_discipline_regulation_structure() -> None:
    parsed = load(DISCIPLINE)
    articles = by_key(parsed)
    assert parsed.parts() == ["第一编 总则", "第二编 分则", "第三编 附则"]
    assert parsed.chapters()[0] == "第一章 总体要求和适用范围"
    assert parsed.chapters()[-1] == "第十一章 对违反生活纪律行为的处分"
    assert articles["1"].part == "第一编 总则"
    assert articles["1"].chapter == "第一章 总体要求和适用范围"
    assert articles["108"].article_no == "第一百零八条"
    assert articles["108"].part == "第二编 分则"
    assert articles["108"].chapter == "第八章 对违反廉洁纪律行为的处分"
    # 第三编 附则 has no chapter: the 编 heading resets the chapter of 第二编.
    assert (articles["155"].part, articles["155"].chapter) == ("第三编 附则", None)
    assert all(a.section is None for a in parsed.articles)
    # The SOURCES note: 80 of the 158 articles have more than one paragraph.
    assert sum("\n" in a.body for a in parsed.articles) == 80
    assert parsed.preamble.startswith("（2003年12月23日")


def test_discipline_regulation_bodies() -> None:
    articles = by_key(load(DISCIPLINE))
    assert articles["8"].body.split("\n") == [
        "对党员的纪律处分种类：",
        "（一）警告；",
        "（二）严重警告；",
        "（三）撤销党内职务；",
        "（四）留党察看；",
        "（五）开除党籍。",
    ]
    last = articles["158"].body.split("\n")
    assert last[0] == "本条例自2024年1月1日起施行。"
    assert last[1].startswith("本条例施行前，已结案的案件")
    # Mid-line cross-references stay inside their article.
    assert "本条例第十七条规定的情形" in articles["19"].body
    assert articles["52"].body.startswith("制作、贩卖、传播第五十条、第五十一条所列内容")
    assert len(articles["52"].body.split("\n")) == 3


def test_integrity_code_sub_headings_and_preamble() -> None:
    parsed = load(INTEGRITY)
    sections = [a.section for a in parsed.articles]
    assert sections == ["党员廉洁自律规范"] * 4 + ["党员领导干部廉洁自律规范"] * 4
    assert parsed.chapters() == []
    assert parsed.preamble.startswith("中国共产党全体党员和各级党员领导干部必须坚定共产主义理想")
    assert parsed.preamble.endswith("永葆党的先进性和纯洁性。")
    # The file has no trailing newline: the last article is still complete.
    assert parsed.articles[-1].body == "廉洁齐家，自觉带头树立良好家风。"


def test_accountability_regulation_separators_and_wrap_spaces() -> None:
    articles = by_key(load(ACCOUNTABILITY))
    # 第一条 uses U+3000 after the label, 第六条 an ASCII space.
    assert articles["1"].body.startswith("为全面从严治党")
    assert articles["6"].body.startswith("党组织和党的领导干部违反党章")
    assert "生态文明建设" in articles["6"].body
    assert "重要讲话精神" in articles["2"].body
    assert "管党治党政治责任" in articles["2"].body
    assert "组织部门应当将问责决定材料" in articles["9"].body
    assert all(" " not in a.body and IS not in a.body for a in articles.values())
    seventh = articles["7"].body.split("\n")
    assert len(seventh) == 10
    assert seventh[0] == "对党组织的问责方式包括："
    assert seventh[-1] == "上述问责方式，可以单独使用，也可以合并使用。"


def test_supervision_law_markdown() -> None:
    parsed = load(SUPERVISION)
    articles = by_key(parsed)
    assert parsed.chapters()[0] == "第一章 总则"  # "## 第一章 总 则"
    assert parsed.chapters()[-1] == "第九章 附则"
    assert articles["1"].chapter == "第一章 总则"
    assert articles["78"].chapter == "第九章 附则"
    assert parsed.preamble.split("\n")[0] == "2018年3月20日 第十三届全国人民代表大会第一次会议通过"
    assert "INFO END" not in parsed.preamble
    assert articles["78"].body == "本法自公布之日起施行。《中华人民共和国行政监察法》同时废止。"


def test_summary_of_a_real_text() -> None:
    text = summary(load(DISCIPLINE))
    assert "标题：中国共产党纪律处分条例" in text
    assert "版本：2023" in text
    assert "条数：158" in text
    assert "章：11" in text
    assert "  第十一章 对违反生活纪律行为的处分" in text
    assert "首条：第一条 为了维护党章和其他党内法规，严肃党的纪律，纯洁党的组织，保障…" in text
    assert "末条：第一百五十八条 本条例自2024年1月1日起施行。" in text
    assert "注意" not in text


# --------------------------------------------------------------------------- hand-written quirks


PLAIN_INDENTED = (
    "中国共产党测试条例\n"
    "\n"
    f"{IS}{IS}（2019年8月1日中共中央发布 2022年3月1日修订）\n"
    "\n"
    f"{IS}{IS}第一编{IS}总则\n"
    f"{IS}{IS}第一章 总 则\n"
    f"{IS}{IS}第一条{IS}为了规范测试工作，制定本条例。\n"
    f"{IS}{IS}第二条 本条例适用于下列情形：\n"
    f"{IS}{IS}（一）第一种情形；\n"
    f"{IS}{IS}（二）第二种情形。\n"
    f"{IS}{IS}第二章{IS}处分\n"
    f"{IS}{IS}第一节 一般规定\n"
    f"{IS}{IS}第三条 依照本条例第一条、第二条处理。\n"
    f"{IS}{IS}第五十条、第五十一条所列内容不适用前款规定。\n"
)


def test_plain_indented_text_with_headings() -> None:
    parsed = parse_regulation(PLAIN_INDENTED)
    assert parsed.title == "中国共产党测试条例"
    assert parsed.version == "2022"
    assert parsed.preamble == "（2019年8月1日中共中央发布 2022年3月1日修订）"
    first, second, third = parsed.articles
    assert (first.part, first.chapter, first.section) == ("第一编 总则", "第一章 总则", None)
    assert first.body == "为了规范测试工作，制定本条例。"
    assert second.body == "本条例适用于下列情形：\n（一）第一种情形；\n（二）第二种情形。"
    assert (third.chapter, third.section) == ("第二章 处分", "第一节 一般规定")
    # A wrapped line may start with a cross-reference: it is a paragraph, not 第五十条.
    assert third.body.split("\n") == [
        "依照本条例第一条、第二条处理。",
        "第五十条、第五十一条所列内容不适用前款规定。",
    ]


def test_separators_u3000_ascii_space_tab_and_label_alone() -> None:
    text = "第一条\u3000甲。\n第二条 乙。\n第三条\t丙。\n第四条\n丁。\n第五条  戊。"
    bodies = [a.body for a in parse_regulation(text).articles]
    assert bodies == ["甲。", "乙。", "丙。", "丁。", "戊。"]


def test_markdown_headings_comments_and_front_matter() -> None:
    text = (
        "---\n"
        "layout: page\n"
        "title: 中华人民共和国测试法\n"
        "---\n"
        "# 中华人民共和国测试法\n"
        "\n"
        "2020年1月1日 第十三届全国人民代表大会常务委员会第一次会议通过\n"
        "\n"
        "<!-- INFO END -->\n"
        "<!--\n多行注释 第九条 不是条文\n-->\n"
        "## 第一章 总 则\n"
        "\n"
        "第一条 为了测试，制定本法。\n"
        "\n"
        "### 第一节 一般规定\n"
        "\n"
        "**第二条** 测试应当认真。\n"
        "\n"
        "##第二章 附　则\n"
        "\n"
        "第三条 本法自公布之日起施行。\n"
    )
    parsed = parse_regulation(text)
    assert parsed.title == "中华人民共和国测试法"
    assert parsed.version == "2020"
    assert [a.key for a in parsed.articles] == ["1", "2", "3"]
    assert parsed.chapters() == ["第一章 总则", "第二章 附则"]
    assert parsed.articles[0].section is None
    assert parsed.articles[1].section == "第一节 一般规定"
    assert parsed.articles[1].body == "测试应当认真。"
    assert parsed.articles[2].section is None
    assert "注释" not in parsed.preamble and "INFO" not in parsed.preamble
    assert all("#" not in a.body and "-->" not in a.body for a in parsed.articles)


def test_sub_articles_and_big_numerals() -> None:
    text = (
        "第十七条 甲。\n"
        "第十七条之一 乙。\n"
        "第十七条之二　丙。\n"
        "第十八条 丁。\n"
        "第一百零八条 戊。\n"
        "第一百五十八条 己。\n"
    )
    parsed = parse_regulation(text)
    assert [(a.number, a.sub, a.key) for a in parsed.articles] == [
        (17, 0, "17"),
        (17, 1, "17-1"),
        (17, 2, "17-2"),
        (18, 0, "18"),
        (108, 0, "108"),
        (158, 0, "158"),
    ]
    assert parsed.articles[1].article_no == "第十七条之一"
    assert parsed.articles[5].article_no == "第一百五十八条"
    # An excerpt that does not start at 第一条, and gaps, are imported with a warning.
    assert any("第十七条" in w for w in parsed.warnings)
    assert any("缺少第十九条" in w for w in parsed.warnings)
    assert "注意：" in summary(parsed)


def test_ascii_digit_labels() -> None:
    parsed = parse_regulation("第1条 甲。\n第2条 乙。\n第88条 丙。")
    assert [a.number for a in parsed.articles] == [1, 2, 88]
    assert parsed.articles[2].article_no == "第88条"


def test_plain_sub_headings_are_sections_not_body() -> None:
    text = (
        "中国共产党测试准则\n"
        "全体党员必须遵守本准则，永葆先进性。\n"
        "党员规范\n"
        "第一条 坚持公私分明。\n"
        "第二条 坚持崇廉拒腐。\n"
        "党员领导干部规范\n"
        "第三条 廉洁从政。"
    )
    parsed = parse_regulation(text)
    assert parsed.title == "中国共产党测试准则"
    assert parsed.preamble == "全体党员必须遵守本准则，永葆先进性。"
    assert [a.section for a in parsed.articles] == ["党员规范", "党员规范", "党员领导干部规范"]
    assert parsed.articles[1].body == "坚持崇廉拒腐。"


def test_wrap_spaces_inside_words_are_removed_but_not_elsewhere() -> None:
    text = (
        "第一条 推进生态文 明建设，组织部门应 当备案。\n"
        "第二条 自2016年7月8日起施行，适用 GB 2312 标准。"
    )
    first, second = parse_regulation(text).articles
    assert first.body == "推进生态文明建设，组织部门应当备案。"
    assert second.body == "自2016年7月8日起施行，适用 GB 2312 标准。"


def test_crlf_bom_and_no_trailing_newline() -> None:
    text = "\ufeff中国共产党测试条例\r\n\r\n第一条\u3000甲。\r\n第二款。\r\n第二条 乙。"
    parsed = parse_regulation(text)
    assert parsed.title == "中国共产党测试条例"
    assert [a.body for a in parsed.articles] == ["甲。\n第二款。", "乙。"]
    assert all("\r" not in a.body and "\ufeff" not in a.body for a in parsed.articles)


def test_old_mac_line_endings() -> None:
    assert len(parse_regulation("第一条 甲。\r第二条 乙。\r").articles) == 2


def test_title_and_version_detection() -> None:
    assert parse_regulation("# 某某条例（2019年修订）\n第一条 甲。").title == "某某条例"
    assert parse_regulation("# 某某条例（2019年修订）\n第一条 甲。").version == "2019"
    # The year in the file name when the text has none.
    parsed = parse_regulation("第一条 甲。", filename="某某法(2024-12-25).md")
    assert (parsed.title, parsed.version) == (None, "2024")
    # A first line that is prose is not a title.
    parsed = parse_regulation("为了测试，制定本规定。\n第一条 甲。")
    assert parsed.title is None
    assert parsed.preamble == "为了测试，制定本规定。"
    assert parsed.version is None


def test_paragraph_between_heading_and_article_is_reported_not_glued() -> None:
    text = "第一条 甲。\n第二章 其他\n本章说明文字。\n第二条 乙。"
    parsed = parse_regulation(text)
    assert [a.body for a in parsed.articles] == ["甲。", "乙。"]
    assert any("第二章 其他" in w for w in parsed.warnings)


def test_summary_handles_missing_title_and_chapters() -> None:
    text = summary(parse_regulation("第一条 " + "很长的条文" * 10))
    assert "标题：（未识别）" in text
    assert "版本：（未识别）" in text
    assert "条数：1" in text
    assert "章：无" in text
    assert f"首条：第一条 {('很长的条文' * 6)}…" in text


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("第一条 甲。\n第三条 乙。\n第二条 丙。", "第二条"),
        ("第一条 甲。\n第二条 乙。\n第二条 丙。", "第二条"),
        ("第十七条之一 甲。\n第十七条 乙。", "第十七条"),
    ],
)
def test_articles_out_of_order_are_an_error_naming_the_article(text: str, label: str) -> None:
    with pytest.raises(RegulationError, match=f"{label} on line 3|{label} on line 2"):
        parse_regulation(text)


def test_text_without_articles() -> None:
    with pytest.raises(RegulationError, match="No article found"):
        parse_regulation("# 某某条例\n\n这是一段说明，依照本条例第十七条处理。\n")
    with pytest.raises(RegulationError, match="No article found"):
        parse_regulation("")


def test_glued_labels_get_a_hint() -> None:
    with pytest.raises(RegulationError, match="glued"):
        parse_regulation("第一条为了测试。\n第二条本条例施行。")


def write(tmp_path: Path, data: bytes, name: str = "reg.md") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_read_utf8_with_and_without_bom(tmp_path: Path) -> None:
    text = "第一条\u3000为了测试，制定本条例。\n"
    assert read_regulation_file(write(tmp_path, text.encode("utf-8"))) == text
    with_bom = read_regulation_file(write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8")))
    assert with_bom == text


def test_read_gb18030(tmp_path: Path) -> None:
    text = (
        "中国共产党测试条例\r\n"
        "第一条\u3000为了维护党章，严肃党的纪律。\r\n"
        "第二条 本条例自公布之日起施行。\r\n"
    )
    read = read_regulation_file(write(tmp_path, text.encode("gb18030")))
    assert read == text
    assert len(parse_regulation(read).articles) == 2


def test_read_real_file_round_trips_through_gb18030(tmp_path: Path) -> None:
    original = (REGULATIONS / ACCOUNTABILITY).read_text(encoding="utf-8")
    path = write(tmp_path, original.encode("gb18030"))
    assert len(parse_regulation(read_regulation_file(path)).articles) == 13


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b" \n\t\r\n", "only whitespace"),
        ("\u3000\u3000\n\n".encode(), "only whitespace"),
        (b"\xef\xbb\xbf", "empty|only whitespace"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("第一条 甲。".encode("utf-16"), "UTF-16"),
        ("Règlement général sur la protection des données".encode("latin-1"), "UTF-8"),
        (bytes(range(128, 256)), "UTF-8"),
    ],
)
def test_read_rejects_bad_files(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(RegulationError, match=message):
        read_regulation_file(write(tmp_path, data))


def test_read_rejects_huge_files(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(5 * 1024 * 1024 + 1)  # sparse: no need to write 5 MB
    with pytest.raises(RegulationError, match="MB"):
        read_regulation_file(path)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegulationError, match="Cannot read"):
        read_regulation_file(tmp_path / "nope.md")


# --------------------------------------------------------------------------- numerals


@pytest.mark.parametrize("n", range(1, 201))
def test_numeral_round_trip(n: int) -> None:
    assert chinese_numeral_to_int(int_to_chinese_numeral(n)) == n


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("一", 1),
        ("十", 10),
        ("十五", 15),
        ("十七", 17),
        ("二十", 20),
        ("九十九", 99),
        ("一百", 100),
        ("一百零八", 108),
        ("一百一十", 110),
        ("一百五十八", 158),
        ("二百", 200),
        ("一千零一", 1001),
        ("88", 88),
    ],
)
def test_numeral_literals(text: str, number: int) -> None:
    assert chinese_numeral_to_int(text) == number
    if not text.isdigit():
        assert int_to_chinese_numeral(number) == text


@pytest.mark.parametrize("text", ["", "abc", "十十", "一二", "百千", "一百五"])
def test_bad_numerals(text: str) -> None:
    with pytest.raises(RegulationError):
        chinese_numeral_to_int(text)


def test_int_to_numeral_range() -> None:
    with pytest.raises(ValueError):
        int_to_chinese_numeral(0)
