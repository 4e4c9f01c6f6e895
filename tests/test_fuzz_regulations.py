"""Fuzz regulation import (bot/regulations.py + bot/library_sync.py, behind `content import`
and the console's upload): random text, binary, BOMs, UTF-16, GBK and UTF-8 mixed in one file,
regulation-shaped text with random headings and article numbers, real texts cut at random.

For every file: only RegulationError comes out of reading and splitting it; a refused file
writes nothing; an import writes every parsed article, findable by its key, and importing the
same file again changes nothing. One seed per example (tests/fuzz/messages.py says why).
"""

from __future__ import annotations

import pytest
from hypothesis import given

from bot.library_sync import import_regulation, parse_file
from bot.regulations import RegulationError, int_to_chinese_numeral
from tests.fuzz import FUZZ
from tests.fuzz.messages import SEED, Gen
from tests.fuzz.store import writes
from tests.paths import REGULATIONS

REAL = sorted(p.read_text(encoding="utf-8") for p in REGULATIONS.glob("*.md"))
HEADINGS = ["第一编 总则", "第一章 总则", "第二节 处分", "第{n}条", "第{n}条之一", "第{n}条之{m}",
            "第 {n} 条", "**第{n}条**", "## 第{n}章", "第{d}条", "第0条", "第〇条", "第一千万条",
            "附则", "# 中国共产党{x}条例", "（{year}年修订）", "第条", "第{n}", "第{n}条之"]
BODY = ["党员应当遵守党的纪律。", "有下列行为之一的，给予警告或者严重警告处分：", "（一）{x}；",
        "情节严重的，给予开除党籍处分。", "本条例自发布之日起施行。", "", "   ", "\t", "{x}"]


def regulation_text(g: Gen) -> str:
    lines = []
    for _ in range(g.pick([0, 1, 3, g.int(0, 40)])):
        template = g.pick(HEADINGS) if g.one_in(3) else g.pick(BODY)
        number = g.pick([1, 2, 3, 10, 99, 100, 101, 1000, g.int(1, 200)])
        lines.append(template.format(n=int_to_chinese_numeral(number), m=g.pick(["一", "二", "十"]),
                                     d=number, x=g.text(30), year=g.int(1900, 2100)))
    return g.pick(["\n", "\r\n", "\r", "\n\n"]).join(lines)


def file_bytes(g: Gen) -> bytes:
    shape = g.int(0, 19)
    if shape == 0:
        return g.bytes(3000)
    if shape == 1:
        return b""
    if shape <= 4:  # a real text, cut and spliced
        real = g.pick(REAL)
        start = g.int(0, len(real))
        text = real[start:start + g.int(0, 4000)]
        if g.one_in(3):
            text = regulation_text(g) + text
        return text.encode(g.pick(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"]), "replace")
    text = regulation_text(g)
    if shape == 5:  # half UTF-8, half GBK
        cut = g.int(0, len(text))
        return text[:cut].encode("utf-8") + text[cut:].encode("gbk", "replace")
    if shape == 6:
        return text.encode(g.pick(["utf-16", "utf-16-be", "big5", "latin-1", "shift_jis"]),
                           "replace")
    if shape == 7:
        return text.encode("utf-8", "surrogatepass") + g.bytes(20)
    if shape == 8:
        text = text.replace("条", g.text(2, hostile=True), 1)
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture
def reg_services(make_services):
    return make_services(demo=False)


@FUZZ
@given(seed=SEED)
def test_regulation_files(reg_services, tmp_path, seed):
    services = reg_services
    g = Gen(seed)
    path = tmp_path / g.pick(["条例.md", "条例.txt", "x", "处分条例(2023).md"])
    for old in tmp_path.iterdir():
        if old.is_file():
            old.unlink()
    path.write_bytes(file_bytes(g))
    before = writes(services.store)
    try:
        parsed = parse_file(path)
    except RegulationError as exc:
        assert str(exc)
        assert writes(services.store) == before
        return
    assert parsed.articles and all(a.key and a.body is not None for a in parsed.articles)
    assert writes(services.store) == before, "splitting a file wrote rows"
    if not g.one_in(20):
        return  # importing is the slow part: one file in twenty goes all the way in
    source, version = g.pick([(None, None), ("模糊测试条例", "2026"), (None, "2024")])
    try:
        report = import_regulation(services.store, path, parsed, source=source, version=version,
                                   actor="fuzz", now=services.clock.now())
    except RegulationError:
        assert writes(services.store) == before, "a refused import wrote rows"
        return
    db = services.store.db
    keys = {row[0] for row in db.execute(
        "SELECT article_key FROM readings WHERE source = ? AND version = ?",
        [report.source, report.version])}
    assert {a.key for a in parsed.articles} <= keys
    again = import_regulation(services.store, path, parsed, source=source, version=version,
                              actor="fuzz", now=services.clock.now())
    assert again.already_imported and again.changed == 0
