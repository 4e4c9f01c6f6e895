"""Bigram FTS5 search over the reading library: real terms find the right articles, ranked;
superseded and retired readings never come back; no query, however odd, raises."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from bot import search
from bot.clock import SHANGHAI, SettableClock
from bot.config import load_config
from bot.library import load_library
from bot.library_sync import ImportReport, import_regulation, parse_file, sync_library
from bot.regulations import int_to_chinese_numeral
from bot.seed import initialise
from bot.services import build_services
from bot.store import readings as store_readings
from tests.paths import CONTENT, REGULATIONS

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def library_services(tmp_path_factory):
    """One store with the default library for the tests that only read it (a real file)."""
    path = tmp_path_factory.mktemp("search") / "qingfeng.db"
    services = build_services(load_config({"store": {"path": str(path)}}), SettableClock(NOW))
    initialise(services, demo=False)
    yield services
    services.store.close()


@pytest.fixture
def db(library_services):
    return library_services.store.db


@pytest.fixture
def services(make_services):
    """A store of its own, for the tests that write."""
    return make_services(demo=False)


def found(db, query: str, limit: int = 3) -> list[tuple[str, str, str]]:
    """(short, article_no, title) of each hit, best first."""
    rows = []
    for hit in search.search(db, query, limit=limit):
        reading = store_readings.get_reading(db, hit.ref)
        assert reading is not None
        rows.append((reading.short, reading.article_no, reading.title))
    return rows


def text_of(db, hit: search.Hit) -> str:
    reading = store_readings.get_reading(db, hit.ref)
    assert reading is not None
    return " ".join((reading.short, reading.title, reading.body, reading.gloss, *reading.tags))


def import_file(services, path: Path, version: str | None = None) -> ImportReport:
    return import_regulation(services.store, path, parse_file(path), source=None, version=version,
                             actor="test", now=NOW)


def write_regulation(folder: Path, name: str, year: int, articles: list[str]) -> Path:
    lines = [name, f"（{year}年3月1日印发）", ""]
    lines += [f"第{int_to_chinese_numeral(i)}条　{body}" for i, body in enumerate(articles, 1)]
    path = folder / f"{name}_{year}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- tokens and expressions ---------------------------------------------------------------


def test_bigrams_of_chinese_latin_and_digits():
    assert search.bigrams("四风") == ["四风"]
    assert search.bigrams("八项规定") == ["八项", "项规", "规定"]
    assert search.bigrams("廉") == ["廉"]
    assert search.bigrams("《八项规定》，四风") == ["八项", "项规", "规定", "四风"]
    assert search.bigrams("A股 2024年") == ["a", "股", "2024", "年"]
    assert search.bigrams("“”，。！？*()\"") == []


def test_match_expressions_go_from_phrase_to_any_bigram():
    assert search.match_expressions("礼金") == ['"礼金"']
    assert search.match_expressions("礼品礼金") == [
        '"礼品 品礼 礼金"', '"品礼" AND "礼品" AND "礼金"', '"品礼" OR "礼品" OR "礼金"']
    assert search.match_expressions("廉") == ['"廉"*']


# --- finding the right readings -----------------------------------------------------------


@pytest.mark.parametrize("term, first_title", [
    ("公车", "违规配备使用公车"),
    ("宴请", "违规接受宴请和旅游"),
    ("八项规定", None),
    ("四风", None),
])
def test_two_character_terms_and_phrases_find_readings_that_contain_them(db, term, first_title):
    hits = search.search(db, term, limit=3)
    assert len(hits) == 3
    for hit in hits:
        assert term in text_of(db, hit), (term, hit.title)
    if first_title:
        assert hits[0].title == first_title


def test_gift_money_finds_the_three_gift_articles_first(db):
    assert set(found(db, "礼金")) == {
        ("纪律处分条例", "第九十七条", "违规收受礼品礼金"),
        ("纪律处分条例", "第九十八条", "违规赠送礼品礼金"),
        ("政务处分法", "第三十四条", "礼品礼金与宴请旅游"),
    }


def test_a_long_phrase_that_never_stands_verbatim_ranks_gift_articles_first(db):
    # No reading says 违规收送礼品礼金; the looser stages must still rank 礼品礼金 on top.
    assert not any("违规收送礼品礼金" in text_of(db, h) for h in search.search(db, "违规收送礼品礼金", limit=5))
    hits = search.search(db, "违规收送礼品礼金", limit=5)
    assert len(hits) == 5
    assert "礼品礼金" in hits[0].title
    assert [h.title for h in hits[:2]] == ["违规收受礼品礼金", "违规赠送礼品礼金"]
    assert hits[0].score <= hits[-1].score  # bm25: lower is better


def test_exact_phrase_matches_rank_before_looser_ones(db):
    # 礼品礼金 as a phrase exists; a reading with only 礼品 or only 礼金 must come after.
    hits = search.search(db, "礼品礼金", limit=6)
    phrase = ["礼品礼金" in text_of(db, h) for h in hits]
    assert phrase[0] is True
    assert phrase == sorted(phrase, reverse=True)


def test_two_terms_must_both_appear_when_some_reading_has_both(db):
    hits = search.search(db, "公车 八项规定", limit=3)
    assert hits
    assert all("公车" in text_of(db, h) and "八项规定" in text_of(db, h) for h in hits)


def test_limit_is_respected(db):
    assert len(search.search(db, "纪律", limit=1)) == 1
    assert len(search.search(db, "纪律", limit=7)) == 7


def test_a_single_character_finds_words_starting_with_it(db):
    hits = search.search(db, "廉", limit=3)
    assert len(hits) == 3
    assert all("廉" in text_of(db, h) for h in hits)
    assert len(search.search(db, "礼 金", limit=3)) == 3


# --- hostile and empty queries -------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "", "   ", "*", '"', "'", "(", ")", ":", "-", "^", "“”", "？？？", "\x00", "🙂",
    'a" OR "b', "NEAR(", "NEAR(四风 礼金)", "四风*", "^四风", "四风 -礼金", "title:四风",
    "AND", "OR", "NOT", "四风 AND", "(四风", '"四风', "四风\"", "{title body}: 四风", "四风 + 礼金",
    "x" * 500, "四风" * 300,
])
def test_no_query_raises(db, query):
    hits = search.search(db, query, limit=3)
    assert isinstance(hits, list) and len(hits) <= 3


@pytest.mark.parametrize("query", ["", "   ", "*", '"', "'", "(", ":", "“”", "？？？", "🙂"])
def test_a_query_without_words_finds_nothing(db, query):
    assert search.match_expressions(query) == []
    assert search.search(db, query) == []


@pytest.mark.parametrize("query", ["四风*", "^四风", "“四风”", "《四风》", '"四风"', "四风？"])
def test_syntax_around_a_term_is_ignored(db, query):
    assert found(db, query) == found(db, "四风")


def test_fts_operators_are_searched_as_words_not_obeyed(db):
    # '四风 NOT 礼金' as FTS syntax would exclude 礼金; here NOT is just an (absent) word.
    assert search.match_expressions("四风 NOT 礼金")[0] == '"四风" AND "not" AND "礼金"'
    assert search.search(db, 'a" OR "b') == []


# --- snippets --------------------------------------------------------------------------------


def test_snippet_shows_the_term_wherever_the_text_has_it(db):
    shown = 0
    for term in ("四风", "礼金", "公车", "宴请", "八项规定"):
        for hit in search.search(db, term, limit=3):
            reading = store_readings.get_reading(db, hit.ref)
            if term in reading.body or term in reading.gloss:
                assert term in hit.snippet, (term, hit.snippet)
                shown += 1
            else:  # matched on the title or a tag only
                assert term in reading.title + reading.short or term in reading.tags
    assert shown >= 8


def test_snippet_comes_from_the_gloss_when_only_the_gloss_has_the_term(services):
    db = services.store.db
    with services.store.transaction() as tx:
        store_readings.upsert_reading(
            tx, slug="test-gloss", source="清风测试规定", short="测试规定", version="2026",
            article_no="第一条", article_key="1", chapter="", title="测试", kind="quote",
            body="正文没有那个词。", tags=(), gloss="注释里提到玳瑁。", origin="library", now=NOW)
    [hit] = search.search(db, "玳瑁")
    assert hit.snippet == "注释里提到玳瑁。"


def test_snippet_windows_a_long_body_around_the_term():
    body = "前" * 100 + "中央八项规定精神" + "后" * 100
    text = search.snippet(body, "八项规定")
    assert "八项规定" in text
    assert text.startswith("…") and text.endswith("…")
    assert len(text) == 62
    assert search.snippet("短文：四风。", "四风") == "短文：四风。"
    assert search.snippet("没有这个词", "火星") == "没有这个词"


def test_snippet_of_a_loose_match_shows_a_part_that_matched():
    body = "前" * 100 + "禁止收受礼品" + "后" * 100
    assert "礼品" in search.snippet(body, "违规礼品卡")


# --- versions, changes, retirement ------------------------------------------------------------


def test_a_superseded_reading_is_never_returned(services):
    db = services.store.db
    # The 2016 问责条例 is imported while the library holds 2019: kept for history only.
    report = import_file(services, REGULATIONS / "中国共产党问责条例.md")
    assert report.version == "2016" and not report.is_current
    assert db.execute("SELECT count(*) FROM readings WHERE version = '2016' AND superseded = 1"
                      ).fetchone()[0] == 13
    for term in ("一团和气", "终身问责", "好人主义", "问责"):
        for hit in search.search(db, term, limit=10):
            reading = store_readings.get_reading(db, hit.ref)
            assert reading is not None and reading.version != "2016", term
    assert search.search(db, "一团和气") == []


def test_many_superseded_versions_do_not_crowd_out_the_current_one(services, tmp_path):
    db = services.store.db
    old = [f"第{i}项要求：清风测试词出现在旧版。" for i in range(1, 31)]
    new = [f"第{i}项要求：清风测试词出现在新版。" for i in range(1, 4)]
    import_file(services, write_regulation(tmp_path, "清风测试条例", 2020, old))
    assert len(search.search(db, "测试词", limit=3)) == 3
    report = import_file(services, write_regulation(tmp_path, "清风测试条例", 2024, new))
    assert report.superseded_older == 30
    hits = search.search(db, "测试词", limit=3)
    assert [store_readings.get_reading(db, h.ref).version for h in hits] == ["2024"] * 3
    assert all("新版" in h.snippet for h in hits)


def test_an_imported_article_the_library_curates_is_listed_once(services):
    db = services.store.db
    import_file(services, REGULATIONS / "中国共产党纪律处分条例_2023.md")
    for term in ("享乐主义", "婚丧喜庆", "私人会所", "津贴", "礼金", "公款"):
        keys = []
        for hit in search.search(db, term, limit=3):
            reading = store_readings.get_reading(db, hit.ref)
            keys.append((reading.short, reading.version, reading.article_key))
        assert len(keys) == len(set(keys)), (term, keys)
    # ... and the one listed is the curated reading, with its own title.
    assert found(db, "高尔夫", limit=1) == [("纪律处分条例", "第一百零二条", "消费卡与私人会所")]


def test_the_index_follows_a_changed_reading(services):
    db = services.store.db
    def upsert(body: str) -> bool:
        with services.store.transaction() as tx:
            return store_readings.upsert_reading(
                tx, slug="test-change", source="清风测试规定", short="测试规定", version="2026",
                article_no="第一条", article_key="1", chapter="", title="测试", kind="quote",
                body=body, tags=(), gloss="", origin="library", now=NOW)

    assert upsert("玳瑁色的车不得公车私用。")
    assert found(db, "玳瑁", limit=3) == [("测试规定", "第一条", "测试")]
    assert not upsert("玳瑁色的车不得公车私用。")  # unchanged: no write
    assert upsert("琥珀色的车不得公车私用。")
    assert found(db, "玳瑁") == []
    assert found(db, "琥珀") == [("测试规定", "第一条", "测试")]
    reading_id = db.execute("SELECT id FROM readings WHERE slug = 'test-change'").fetchone()[0]
    assert db.execute("SELECT count(*) FROM search_index WHERE kind = 'reading' AND ref = ?",
                      [reading_id]).fetchone()[0] == 1


def test_a_reading_removed_from_the_content_files_leaves_the_index(services):
    db = services.store.db
    library = load_library(CONTENT)
    gone = next(r for r in library.readings if r.article_no == "第一百零二条")
    assert found(db, "高尔夫", limit=1)[0][1] == "第一百零二条"
    before = db.execute("SELECT count(*) FROM search_index").fetchone()[0]
    smaller = dataclasses.replace(library, readings=tuple(r for r in library.readings if r is not gone))
    report = sync_library(services.store, smaller, NOW)
    assert report.readings_retired == 1
    assert db.execute("SELECT count(*) FROM search_index").fetchone()[0] == before - 1
    assert all(number != "第一百零二条" for _short, number, _title in found(db, "高尔夫", limit=10))
    # Put back, it is found again.
    assert sync_library(services.store, library, NOW).readings_changed == 1
    assert found(db, "高尔夫", limit=1)[0][1] == "第一百零二条"


def test_an_index_written_the_old_way_is_rebuilt_on_sync(services):
    # Before rowids were derived from (kind, ref), rows took SQLite's next rowid.
    db = services.store.db
    with services.store.transaction() as tx:
        rows = tx.execute("SELECT kind, ref, title, body FROM search_index ORDER BY ref DESC"
                          ).fetchall()
        tx.execute("DELETE FROM search_index")
        for row in rows:
            tx.execute("INSERT INTO search_index (kind, ref, title, body) VALUES (?, ?, ?, ?)", row)
    assert search.has_misplaced(db)
    sync_library(services.store, load_library(CONTENT), NOW)
    assert not search.has_misplaced(db)
    assert db.execute("SELECT count(*), count(DISTINCT ref) FROM search_index").fetchone() == (73, 73)
    assert set(found(db, "礼金")) == {
        ("纪律处分条例", "第九十七条", "违规收受礼品礼金"),
        ("纪律处分条例", "第九十八条", "违规赠送礼品礼金"),
        ("政务处分法", "第三十四条", "礼品礼金与宴请旅游"),
    }
    # ... and an import into such a store rebuilds it first instead of colliding.
    with services.store.transaction() as tx:
        tx.execute("DELETE FROM search_index WHERE ref = 1")
        tx.execute("INSERT INTO search_index (kind, ref, title, body) VALUES ('reading', 1, '', '')")
    report = import_file(services, REGULATIONS / "中国共产党问责条例.md")
    assert report.articles == 13 and not search.has_misplaced(db)


def test_a_reading_removed_from_the_content_files_is_not_looked_up_by_article(services):
    from bot.library_sync import article_key
    from bot.store.readings import by_article

    db = services.store.db
    library = load_library(CONTENT)
    gone = next(r for r in library.readings if r.article_no == "第一百零二条")
    key = article_key(gone.article_no)
    assert [r.slug for r in by_article(db, key, gone.source.short)] == [gone.id]
    smaller = dataclasses.replace(library, readings=tuple(r for r in library.readings if r is not gone))
    sync_library(services.store, smaller, NOW)
    assert by_article(db, key, gone.source.short) == []
    sync_library(services.store, library, NOW)
    assert [r.slug for r in by_article(db, key, gone.source.short)] == [gone.id]
