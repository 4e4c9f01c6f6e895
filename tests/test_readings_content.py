"""Checks on the default reading library in content/readings/*.toml.

Reads the TOML with tomllib directly (not through bot/library.py), so the content can be
checked on its own. Every kind = "quote" reading of a source whose real text is in
../shared/data/regulations/ must occur, whitespace aside, inside the article it names.
"""

import re
import tomllib
from collections import Counter

import pytest

from tests.paths import CONTENT, REGULATIONS

READINGS_DIR = CONTENT / "readings"

EXPECTED_FILES = {
    "党章.toml",
    "纪律处分条例.toml",
    "廉洁自律准则.toml",
    "问责条例.toml",
    "八项规定.toml",
    "监察法.toml",
    "政务处分法.toml",
}

EXPECTED_VERSIONS = {
    "党章": "2022",
    "纪律处分条例": "2023",
    "廉洁自律准则": "2015",
    "问责条例": "2019",
    "八项规定": "2012",
    "监察法": "2024",
    "政务处分法": "2020",
}

# Shared texts we can check quotes against: source short name -> (file, version of that text).
# 问责条例 in shared/ is the 2016 text, so it cannot vouch for 2019 wording and is left out.
VERIFIABLE = {
    "纪律处分条例": ("中国共产党纪律处分条例_2023.md", "2023"),
    "廉洁自律准则": ("中国共产党廉洁自律准则.md", "2015"),
    "监察法": ("监察法(2024-12-25).md", "2024"),
}

ALLOWED_TAGS = {
    "政治纪律",
    "组织纪律",
    "廉洁纪律",
    "群众纪律",
    "工作纪律",
    "生活纪律",
    "八项规定",
    "四风",
    "问责",
    "监察",
    "政务处分",
    "党员义务",
    "党员权利",
    "理想信念",
    "廉洁自律",
    "宴请",
    "礼品礼金",
    "公车",
    "节日",
    "家风",
}

READING_KEYS = {
    "id": str,
    "article_no": str,
    "title": str,
    "kind": str,
    "body": str,
    "tags": list,
}
OPTIONAL_READING_KEYS = {"gloss": str}
SOURCE_KEYS = {"name": str, "short": str, "version": str}
OPTIONAL_SOURCE_KEYS = {"aliases": list}

NUMERAL = "零一二三四五六七八九十百千"
ARTICLE_NO = re.compile(rf"^第[{NUMERAL}]+(条|项)(之[{NUMERAL}]+)?$")
ID_PATTERN = re.compile(r"^[a-z]+-\d{4}-[0-9a-z]+$")
# An article starts at a line start (after any indentation) with 第X条 (or 第X条之Y) and a separator.
ARTICLE_START = re.compile(
    rf"^[ \t\u3000]*(第[{NUMERAL}]+条(?:之[{NUMERAL}]+)?)(?=[ \t\u3000])", re.MULTILINE
)
QUOTED = re.compile(r"“([^”]+)”")


def squash(text: str) -> str:
    """Remove all whitespace: ASCII spaces, U+3000, tabs, newlines."""
    return re.sub(r"\s+", "", text)


def load_files() -> dict[str, dict]:
    return {
        path.name: tomllib.loads(path.read_text(encoding="utf-8"))
        for path in sorted(READINGS_DIR.glob("*.toml"))
    }


FILES = load_files()
ALL_READINGS = [
    (name, data["source"], reading)
    for name, data in FILES.items()
    for reading in data.get("reading", [])
]


def reading_param_id(item) -> str:
    name, _source, reading = item
    return f"{name}:{reading.get('id', '?')}"


def split_articles(text: str) -> dict[str, str]:
    """Map each article number to its text: from its line-start marker to the next article."""
    matches = list(ARTICLE_START.finditer(text))
    numbers = [m.group(1) for m in matches]
    duplicates = [n for n, c in Counter(numbers).items() if c > 1]
    assert not duplicates, f"article numbers repeated at line start: {duplicates}"
    articles = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        articles[match.group(1)] = text[match.end() : end]
    return articles


@pytest.fixture(scope="module")
def shared_articles() -> dict[str, dict[str, str]]:
    return {
        short: split_articles((REGULATIONS / fname).read_text(encoding="utf-8"))
        for short, (fname, _version) in VERIFIABLE.items()
    }


def test_library_files_and_sources():
    assert set(FILES) == EXPECTED_FILES
    for name, data in FILES.items():
        source = data.get("source")
        assert isinstance(source, dict), f"{name}: missing [source]"
        for key, typ in SOURCE_KEYS.items():
            assert isinstance(source.get(key), typ), f"{name}: source.{key} missing or not {typ}"
            assert source[key].strip(), f"{name}: source.{key} empty"
        for key, typ in OPTIONAL_SOURCE_KEYS.items():
            if key in source:
                assert isinstance(source[key], typ), f"{name}: source.{key} not {typ}"
        assert all(isinstance(a, str) and a for a in source.get("aliases", []))
        assert set(source) <= set(SOURCE_KEYS) | set(OPTIONAL_SOURCE_KEYS), name
        assert name == f"{source['short']}.toml", f"{name}: file name should be the short name"
        assert source["version"] == EXPECTED_VERSIONS[source["short"]], name
        assert data.get("reading"), f"{name}: no readings"


def test_totals():
    assert len(FILES) == 7
    assert len(ALL_READINGS) >= 66
    per_source = Counter(source["short"] for _n, source, _r in ALL_READINGS)
    assert set(per_source) == set(EXPECTED_VERSIONS)
    assert all(count >= 5 for count in per_source.values()), per_source


def test_ids_unique_across_library():
    ids = Counter(reading.get("id") for _n, _s, reading in ALL_READINGS)
    assert not [i for i, c in ids.items() if c > 1], "duplicate reading ids"


def test_article_numbers_unique_within_source():
    for name, data in FILES.items():
        numbers = Counter(r["article_no"] for r in data["reading"])
        assert not [n for n, c in numbers.items() if c > 1], f"{name}: repeated article_no"


@pytest.mark.parametrize("item", ALL_READINGS, ids=reading_param_id)
def test_reading_shape(item):
    _name, source, reading = item
    for key, typ in READING_KEYS.items():
        assert isinstance(reading.get(key), typ), f"{key} missing or not {typ.__name__}"
    for key, typ in OPTIONAL_READING_KEYS.items():
        if key in reading:
            assert isinstance(reading[key], typ), f"{key} not {typ.__name__}"
    assert set(reading) <= set(READING_KEYS) | set(OPTIONAL_READING_KEYS), set(reading)

    assert ID_PATTERN.match(reading["id"]), reading["id"]
    assert f"-{source['version']}-" in reading["id"], "id must carry the source version"
    assert ARTICLE_NO.match(reading["article_no"]), reading["article_no"]
    assert reading["kind"] in {"quote", "summary"}
    assert 4 <= len(reading["title"]) <= 14, reading["title"]
    assert reading["title"] == reading["title"].strip()

    body = reading["body"]
    assert body == body.strip(), "body has leading or trailing whitespace"
    assert len(squash(body)) >= 60, "body under 60 characters"
    assert len(body) <= 400, f"body is {len(body)} characters, over 400"
    assert "\n\n" not in body, "paragraphs are separated by a single newline"

    tags = reading["tags"]
    assert 1 <= len(tags) <= 4
    assert len(set(tags)) == len(tags)
    assert set(tags) <= ALLOWED_TAGS, set(tags) - ALLOWED_TAGS

    if "gloss" in reading:
        gloss = reading["gloss"]
        assert gloss.strip() and "\n" not in gloss, "gloss is one line"


@pytest.mark.parametrize("item", ALL_READINGS, ids=reading_param_id)
def test_quotes_only_where_verifiable(item):
    """A quote must be checkable against a shared text of the same version."""
    _name, source, reading = item
    if reading["kind"] != "quote":
        return
    assert source["short"] in VERIFIABLE, (
        f"{source['short']} has no shared text to verify a quote against: use kind = 'summary'"
    )
    assert source["version"] == VERIFIABLE[source["short"]][1]


@pytest.mark.parametrize("item", ALL_READINGS, ids=reading_param_id)
def test_quote_matches_named_article(item, shared_articles):
    _name, source, reading = item
    short = source["short"]
    if short not in VERIFIABLE or source["version"] != VERIFIABLE[short][1]:
        return
    articles = shared_articles[short]
    article_no = reading["article_no"]
    assert article_no in articles, f"{short} has no {article_no}"
    article = squash(articles[article_no])
    if reading["kind"] == "quote":
        assert squash(reading["body"]) in article, f"body is not verbatim from {article_no}"
    else:
        # A summary may cite the original in “…”; what it cites must be in that article.
        for cited in QUOTED.findall(reading["body"]):
            assert squash(cited) in article, f"“{cited}” is not in {article_no}"


def test_splitter_sees_every_article(shared_articles):
    """Guard the article splitter itself against the known article counts."""
    counts = {short: len(arts) for short, arts in shared_articles.items()}
    assert counts == {"纪律处分条例": 158, "廉洁自律准则": 8, "监察法": 78}
