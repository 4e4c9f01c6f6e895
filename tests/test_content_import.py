"""`python -m bot content import FILE`: the real regulation texts through the command line, into
a real SQLite file; versions supersede each other; bad input is refused and writes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import search
from bot.cli import cli
from bot.store import Store
from bot.store import readings as store_readings
from tests.paths import CONTENT, REGULATIONS

DISCIPLINE = REGULATIONS / "中国共产党纪律处分条例_2023.md"
SELF_DISCIPLINE = REGULATIONS / "中国共产党廉洁自律准则.md"
ACCOUNTABILITY_2016 = REGULATIONS / "中国共产党问责条例.md"
SUPERVISION = REGULATIONS / "监察法(2024-12-25).md"

REAL_TEXTS = [
    (DISCIPLINE, 158, "中国共产党纪律处分条例", "2023"),
    (SELF_DISCIPLINE, 8, "中国共产党廉洁自律准则", "（未识别）"),
    (ACCOUNTABILITY_2016, 13, "中国共产党问责条例", "2016"),
    (SUPERVISION, 78, "中华人民共和国监察法", "2024"),
]


class Cli:
    """The command line against a config in tmp_path: its own store, the repository's content."""

    def __init__(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "var" / "qingfeng.db"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[store]\npath = "{self.db_path}"\n\n'
                               f'[content]\npath = "{CONTENT}"\n', encoding="utf-8")
        self.runner = CliRunner()

    def __call__(self, *args: str | Path, ok: bool = True):
        result = self.runner.invoke(cli, ["--config", str(self.config), *map(str, args)])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(sql, params).fetchall()

    def count(self, where: str = "1", *params: object) -> int:
        return self.rows(f"SELECT count(*) FROM readings WHERE {where}", *params)[0][0]

    def snapshot(self) -> tuple:
        return (self.rows("SELECT source, version, superseded, count(*) FROM readings"
                          " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
                self.rows("SELECT count(*) FROM imports"),
                self.rows("SELECT count(*) FROM search_index"),
                self.rows("SELECT count(*) FROM audit WHERE action = 'regulation import'"))


@pytest.fixture
def run(tmp_path) -> Cli:
    runner = Cli(tmp_path)
    assert "数据库已就绪" in runner("init", "--no-demo").output
    assert runner.count() == 73
    return runner


def write_version(folder: Path, year: int, articles: list[str]) -> Path:
    lines = ["清风测试管理条例", f"（{year}年5月8日印发，自印发之日起施行）", "", "第一章　总则", ""]
    lines += [f"第{'一二三四五六七八九'[i]}条　{body}" for i, body in enumerate(articles)]
    path = folder / f"测试条例_{year}.md"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- dry run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path, articles, title, version", REAL_TEXTS,
                         ids=[p.stem for p, *_ in REAL_TEXTS])
def test_dry_run_prints_the_split_and_writes_nothing(run, path, articles, title, version):
    before = run.snapshot()
    out = run("content", "import", "--dry-run", path).output
    assert f"条数：{articles}（第一条至第" in out
    assert f"标题：{title}" in out
    assert f"版本：{version}" in out
    assert "试运行：未写入" in out
    assert run.snapshot() == before


def test_dry_run_needs_no_database(tmp_path):
    fresh = Cli(tmp_path)
    assert "条数：158（第一条至第一百五十八条）" in fresh("content", "import", "--dry-run",
                                                     DISCIPLINE).output
    assert not fresh.db_path.exists()


# --- importing --------------------------------------------------------------------------------


def test_importing_the_discipline_regulation_gives_158_rows_once(run):
    out = run("content", "import", DISCIPLINE).output
    assert "已导入《中国共产党纪律处分条例》2023年版：158 条，新增或更新 158 条。" in out
    assert run.count("origin = 'import'") == 158
    assert run.count("origin = 'import' AND version = '2023' AND superseded = 0") == 158
    assert run.rows("SELECT min(CAST(article_key AS INTEGER)), max(CAST(article_key AS INTEGER)),"
                    " count(DISTINCT article_key) FROM readings WHERE origin = 'import'"
                    ) == [(1, 158, 158)]
    # It joins the library's source (short name 纪律处分条例), not a new one.
    assert run.rows("SELECT DISTINCT short FROM readings WHERE origin = 'import'") == [
        ("纪律处分条例",)]
    [(article_no, chapter, title, body)] = run.rows(
        "SELECT article_no, chapter, title, body FROM readings WHERE origin = 'import'"
        " AND article_key = '88'")
    assert article_no == "第八十八条"
    assert title == "对违反组织纪律行为的处分" and "第七章" in chapter
    assert body.startswith("有下列行为之一的，对直接责任者和领导责任者")
    first = run.snapshot()

    again = run("content", "import", DISCIPLINE).output
    assert "已导入过" in again and "内容没有变化" in again
    assert run.snapshot() == first
    assert run.rows("SELECT source, version, articles FROM imports") == [
        ("中国共产党纪律处分条例", "2023", 158)]


def test_a_text_without_a_version_needs_one(run):
    result = run("content", "import", SELF_DISCIPLINE, ok=False)
    assert result.exit_code == 1
    assert "--version" in result.output and "中国共产党廉洁自律准则.md" in result.output
    assert "Traceback" not in result.output
    assert run.count("origin = 'import'") == 0

    out = run("content", "import", SELF_DISCIPLINE, "--version", "2015").output
    assert "已导入《中国共产党廉洁自律准则》2015年版：8 条" in out
    assert run.rows("SELECT version, superseded, count(*) FROM readings WHERE origin = 'import'"
                    " GROUP BY 1, 2") == [("2015", 0, 8)]


def test_an_older_text_than_the_library_is_kept_as_superseded(run):
    out = run("content", "import", ACCOUNTABILITY_2016).output
    assert "已导入《中国共产党问责条例》2016年版：13 条" in out
    assert "库中已有更新的版本" in out
    assert run.rows("SELECT version, superseded, count(*) FROM readings"
                    " WHERE source = '中国共产党问责条例' GROUP BY 1, 2 ORDER BY 1") == [
        ("2016", 1, 13), ("2019", 0, 7)]
    store = Store(run.db_path)
    try:
        db = store.db
        assert search.search(db, "一团和气") == []  # only in the 2016 text
        hits = search.search(db, "问责", limit=20)
        assert len(hits) >= 7  # the seven 2019 readings at least
        assert "2016" not in {store_readings.get_reading(db, h.ref).version for h in hits}
        assert all(r.version == "2019" for r in store_readings.by_article(db, "6", "问责条例"))
    finally:
        store.close()


def test_a_newer_version_supersedes_the_older_rows(run, tmp_path):
    v2020 = write_version(tmp_path, 2020, ["为了测试，制定本条例。",
                                           "党员不得收受玳瑁礼盒。",
                                           "本条例自印发之日起施行。"])
    v2024 = write_version(tmp_path, 2024, ["为了测试，制定本条例。",
                                           "党员不得收受或者赠送玳瑁礼盒。",
                                           "党员不得接受琥珀宴请。",
                                           "本条例自印发之日起施行。"])
    out = run("content", "import", v2020).output
    assert "已导入《清风测试管理条例》2020年版：3 条" in out
    assert run.count("short = '清风测试管理条例' AND superseded = 0") == 3

    out = run("content", "import", v2024).output
    assert "已导入《清风测试管理条例》2024年版：4 条" in out
    assert "旧版本的 3 条已标记为「已被新版本取代」" in out
    assert run.rows("SELECT version, superseded, count(*) FROM readings"
                    " WHERE source = '清风测试管理条例' GROUP BY 1, 2 ORDER BY 1") == [
        ("2020", 1, 3), ("2024", 0, 4)]

    store = Store(run.db_path)
    try:
        db = store.db
        hits = search.search(db, "玳瑁", limit=5)
        assert [store_readings.get_reading(db, h.ref).version for h in hits] == ["2024"]
        assert "或者赠送玳瑁礼盒" in hits[0].snippet
        [current] = store_readings.by_article(db, "2", "清风测试管理条例")
        assert current.version == "2024"
    finally:
        store.close()

    # The older text imported again changes nothing and stays history.
    assert "已导入过" in run("content", "import", v2020).output
    assert run.count("short = '清风测试管理条例' AND version = '2020' AND superseded = 0") == 0
    # An even older text, new to the library, comes in as history straight away.
    v2018 = write_version(tmp_path, 2018, ["为了测试，制定本条例。", "本条例自印发之日起施行。"])
    out = run("content", "import", v2018).output
    assert "已导入《清风测试管理条例》2018年版：2 条" in out and "库中已有更新的版本" in out
    assert run.rows("SELECT version, superseded, count(*) FROM readings"
                    " WHERE source = '清风测试管理条例' GROUP BY 1, 2 ORDER BY 1") == [
        ("2018", 1, 2), ("2020", 1, 3), ("2024", 0, 4)]


def test_a_gb18030_file_imports(run, tmp_path):
    path = tmp_path / "清风测试办法.txt"
    path.write_bytes("清风测试办法（2022年）\n\n第一条　禁止收受礼品礼金。\n第二条　禁止公车私用。\n"
                     .encode("gb18030"))
    out = run("content", "import", path).output
    assert "已导入《清风测试办法》2022年版：2 条" in out
    assert run.rows("SELECT article_no, body FROM readings WHERE source = '清风测试办法'"
                    " ORDER BY article_key") == [("第一条", "禁止收受礼品礼金。"),
                                                 ("第二条", "禁止公车私用。")]


# --- garbage in -------------------------------------------------------------------------------

GARBAGE = [
    ("empty.md", b"", "is empty"),
    ("blank.md", b" \n\t\n\xe3\x80\x80\n", "only whitespace"),
    ("binary.md", bytes(range(256)) * 4, "binary file"),
    ("utf16.md", "第一条　内容。".encode("utf-16"), "UTF-16"),
    ("notes.md", "# 学习笔记\n\n这里没有任何条文，只是一段说明。\n".encode(), "No article found"),
    ("glued.md", "测试条例\n第一条为了测试。\n第二条没有空格。\n".encode(), "glued"),
    ("latin1.md", "Règlement intérieur\nArticle premier : café crème à la française.\n"
     .encode("latin-1"), "neither UTF-8 nor GB18030"),
]


@pytest.mark.parametrize("name, data, message", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_is_refused_clearly_and_writes_nothing(run, tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    before = run.snapshot()
    for args in (("content", "import", path), ("content", "import", "--dry-run", path),
                 ("content", "import", path, "--source", "清风测试条例", "--version", "2024")):
        result = run(*args, ok=False)
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert f"Error: {path}:" in result.output  # names the file
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert run.snapshot() == before


def test_a_missing_file_is_refused(run, tmp_path):
    before = run.snapshot()
    result = run("content", "import", tmp_path / "nope.md", ok=False)
    assert result.exit_code == 1 and "nope.md" in result.output
    assert "Traceback" not in result.output
    assert run.snapshot() == before
