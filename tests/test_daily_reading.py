"""今日纪法: one reading per day, the same all day for everyone who asks, no repeats until the
rotation is used up, in the configured order (sequential, shuffle by seed, weekly by tag)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, datetime, timedelta

import pytest

from bot.clock import SHANGHAI
from bot.conversation import handle_inbound
from bot.daily import format_reading, ordered, reading_for
from bot.library_sync import import_regulation, parse_file
from bot.messages import Inbound
from bot.store import members
from bot.store import readings as store_readings
from tests.paths import REGULATIONS

MONDAY = date(2026, 11, 23)
SEQUENTIAL = {"order": "sequential"}
_keys = itertools.count()


def bind(services, user: str = "reader") -> str:
    member = members.list_members(services.store.db)[0]
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=user, member_id=member.id,
                              now=services.clock.now())
    return user


def say(services, user: str, text: str) -> str:
    inbound = Inbound("sandbox", user, "text", text, f"daily-{next(_keys)}", services.clock.now())
    return handle_inbound(services, inbound).text


def pick(services, day: date, settings, audience: str = "all") -> store_readings.StoredReading:
    """What the 08:30 push does: pick (and log) the day's reading in a transaction."""
    with services.store.transaction() as db:
        reading = reading_for(db, day, settings, audience)
    assert reading is not None
    return reading


def walk(services, start: date, days: int, settings, audience: str = "all") -> list[int]:
    return [pick(services, start + timedelta(days=n), settings, audience).id for n in range(days)]


def rotation_ids(services) -> list[int]:
    return [r.id for r in store_readings.rotation(services.store.db)]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


# --- one reading a day ------------------------------------------------------------------------


def test_the_push_and_every_later_ask_get_the_same_reading_all_day(make_services, clock):
    services = make_services()
    user, other = bind(services, "reader"), bind(services, "other")
    settings = services.config.section("reading")
    assert settings["order"] == "shuffle"  # the default

    clock.set(at(MONDAY, 8, 30))
    pushed = pick(services, clock.today(), settings)
    pushed_text = format_reading(pushed, MONDAY)
    assert pushed_text.startswith("【每日纪法】2026年11月23日\n")

    for hour, minute in ((8, 31), (12, 0), (17, 0), (23, 59)):
        clock.set(at(MONDAY, hour, minute))
        with services.store.transaction() as db:
            assert reading_for(db, clock.today(), settings).id == pushed.id
        assert say(services, user, "今日") == pushed_text
        assert say(services, other, "今日纪法") == pushed_text
    assert services.store.db.execute("SELECT count(*) FROM reading_log").fetchone()[0] == 1


def test_the_day_turns_at_midnight_in_shanghai_not_utc(make_services, clock):
    services = make_services()
    user = bind(services)
    clock.set(at(MONDAY, 7, 59))  # 2026-11-22 23:59 UTC
    monday = say(services, user, "今日")
    assert monday.startswith("【每日纪法】2026年11月23日\n")
    clock.set(at(MONDAY, 23, 59))
    assert say(services, user, "今日") == monday
    clock.set(at(MONDAY + timedelta(days=1), 0, 1))  # still 2026-11-23 in UTC
    tuesday = say(services, user, "今日")
    assert tuesday.startswith("【每日纪法】2026年11月24日\n")
    assert tuesday.split("\n")[1] != monday.split("\n")[1]


def test_the_first_ask_of_the_day_may_come_from_the_chat_before_the_push(make_services, clock):
    services = make_services()
    user = bind(services)
    clock.set(at(MONDAY, 7, 0))
    asked = say(services, user, "今日")
    clock.set(at(MONDAY, 8, 30))
    assert format_reading(pick(services, MONDAY, services.config.section("reading")),
                          MONDAY) == asked


# --- no repeats, then a new cycle -----------------------------------------------------------


def test_no_repeat_until_the_rotation_is_used_up_then_a_new_cycle(make_services, clock):
    services = make_services(demo=False)
    settings = services.config.section("reading")
    everyone = rotation_ids(services)
    n = len(everyone)
    assert n == 73

    first = []
    for offset in range(n):  # the clock walks day by day, as the scheduler would
        clock.set(at(MONDAY + timedelta(days=offset), 8, 30))
        first.append(pick(services, clock.today(), settings).id)
    assert len(set(first)) == n
    assert set(first) == set(everyone)

    second = walk(services, MONDAY + timedelta(days=n), n, settings)
    assert len(set(second)) == n and set(second) == set(everyone)
    cycles = services.store.db.execute(
        "SELECT cycle, count(*) FROM reading_log GROUP BY cycle ORDER BY cycle").fetchall()
    assert cycles == [(0, n), (1, n)]
    # The same order: a shuffle is stable, so cycle two repeats cycle one.
    assert second == first


def test_sequential_order_follows_the_library(make_services):
    services = make_services(demo=False, reading=SEQUENTIAL)
    settings = services.config.section("reading")
    everyone = rotation_ids(services)
    assert walk(services, MONDAY, 10, settings) == everyone[:10]
    first = store_readings.get_reading(services.store.db, everyone[0])
    assert (first.short, first.article_no) == ("党章", "第二条")


def test_a_retired_or_superseded_reading_leaves_the_rotation(make_services):
    services = make_services(demo=False)
    db = services.store.db
    everyone = rotation_ids(services)
    with services.store.transaction() as tx:
        tx.execute("UPDATE readings SET in_rotation = 0 WHERE id = ?", [everyone[0]])
        tx.execute("UPDATE readings SET superseded = 1 WHERE id = ?", [everyone[1]])
    assert rotation_ids(services) == everyone[2:]
    seen = walk(services, MONDAY, len(everyone) - 2, services.config.section("reading"))
    assert everyone[0] not in seen and everyone[1] not in seen
    assert db.execute("SELECT count(DISTINCT reading_id) FROM reading_log").fetchone()[0] == 71


def test_an_imported_regulation_joins_the_rotation_without_repeating_curated_articles(
        make_services):
    services = make_services(demo=False, reading=SEQUENTIAL)
    path = REGULATIONS / "中国共产党纪律处分条例_2023.md"
    import_regulation(services.store, path, parse_file(path), source=None, version=None,
                      actor="test", now=services.clock.now())
    rotation = store_readings.rotation(services.store.db)
    # 73 curated + 158 imported, less the 23 articles the library already curates.
    assert len(rotation) == 73 + 158 - 23
    articles = [(r.short, r.version, r.article_key) for r in rotation]
    assert len(articles) == len(set(articles))
    shown = walk(services, MONDAY, len(rotation), services.config.section("reading"))
    texts = [store_readings.get_reading(services.store.db, i) for i in shown]
    assert len({(r.short, r.article_no) for r in texts}) == len(rotation)
    # The curated 第九十七条 (with its title and gloss) stands for the imported one.
    [art97] = [r for r in texts if r.short == "纪律处分条例" and r.article_key == "97"]
    assert art97.origin == "library" and art97.gloss


# --- order settings ---------------------------------------------------------------------------


def test_shuffle_is_stable_for_a_seed_and_different_for_another(make_services):
    services = make_services(demo=False)
    rotation = store_readings.rotation(services.store.db)
    seed_1 = {"order": "shuffle", "seed": 1}
    seed_2 = {"order": "shuffle", "seed": 2}
    once = [r.id for r in ordered(rotation, seed_1)]
    assert once == [r.id for r in ordered(list(reversed(rotation)), seed_1)]
    assert once != [r.id for r in ordered(rotation, seed_2)]
    assert sorted(once) == sorted(r.id for r in rotation)
    assert once != [r.id for r in rotation]
    # Day by day (two audiences keep separate logs in one store): the seed's order, exactly.
    assert walk(services, MONDAY, 20, seed_1, audience="one") == once[:20]
    assert walk(services, MONDAY, 20, seed_2, audience="two") == [
        r.id for r in ordered(rotation, seed_2)][:20]
    # Another audience with the same seed gets the same days.
    assert walk(services, MONDAY, 20, seed_1, audience="again") == once[:20]
    # A new reading slots in somewhere; the others keep their relative order.
    added = dataclasses.replace(rotation[0], id=10_000, slug="added-later")
    grown = [r.id for r in ordered([*rotation, added], seed_1)]
    assert [i for i in grown if i != 10_000] == once and 10_000 in grown


def test_weekly_plan_picks_a_reading_with_that_weekdays_tag(make_services, clock):
    plan = {"monday": "四风", "wednesday": "家风", "friday": "问责"}
    services = make_services(reading={"order": "weekly", "weekly_plan": plan})
    user = bind(services)
    settings = services.config.section("reading")
    db = services.store.db
    for offset in range(14):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 17, 0))
        text = say(services, user, "今日")
        reading = store_readings.get_reading(db, db.execute(
            "SELECT reading_id FROM reading_log WHERE day = ?", [day.isoformat()]).fetchone()[0])
        assert format_reading(reading, day) == text
        tag = plan.get(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                        "sunday")[day.weekday()])
        if tag:
            assert tag in reading.tags, (day, tag, reading.tags)
    # A day without a tag takes the first reading, in library order, not yet read this cycle.
    thursday = (MONDAY + timedelta(days=3)).isoformat()
    with services.store.transaction() as tx:
        tx.execute("DELETE FROM reading_log WHERE day = ?", [thursday])
    read = {rid for (rid,) in db.execute("SELECT reading_id FROM reading_log")}
    expected = next(r for r in store_readings.rotation(db) if r.id not in read)
    assert pick(services, date.fromisoformat(thursday), settings).id == expected.id


def test_weekly_plan_falls_back_when_the_tag_is_used_up(make_services):
    services = make_services(demo=False)
    settings = {"order": "weekly", "weekly_plan": {"monday": "家风"}}
    tagged = [r.id for r in store_readings.rotation(services.store.db) if "家风" in r.tags]
    assert len(tagged) == 5
    mondays = [pick(services, MONDAY + timedelta(weeks=w), settings).id for w in range(7)]
    assert mondays[:5] == tagged
    assert not set(mondays[5:]) & set(tagged)  # used up: other readings, still no repeat
    assert len(set(mondays)) == 7


def test_adding_a_reading_does_not_change_a_day_already_logged(make_services):
    services = make_services(demo=False, reading=SEQUENTIAL)
    settings = services.config.section("reading")
    logged = walk(services, MONDAY, 3, settings)
    with services.store.transaction() as db:
        # Short name 一 sorts before every other source: sequential order would pick it next.
        assert store_readings.upsert_reading(
            db, slug="added-later", source="一号测试规定", short="一", version="2026",
            article_no="第一条", article_key="1", chapter="", title="新加的一条", kind="quote",
            body="后来加入的条文。", tags=(), gloss="", origin="library", now=services.clock.now())
    assert walk(services, MONDAY, 3, settings) == logged
    tomorrow = pick(services, MONDAY + timedelta(days=3), settings)
    assert tomorrow.slug == "added-later"


# --- the message ------------------------------------------------------------------------------


def reading(services, short: str, article_no: str) -> store_readings.StoredReading:
    found = [r for r in store_readings.rotation(services.store.db)
             if r.short == short and r.article_no == article_no]
    assert len(found) == 1
    return found[0]


def test_format_reading_shows_source_version_and_article(make_services):
    services = make_services(demo=False)
    quote = reading(services, "纪律处分条例", "第九十七条")
    assert quote.kind == "quote"
    text = format_reading(quote, MONDAY)
    lines = text.split("\n")
    assert lines[0] == "【每日纪法】2026年11月23日"
    assert lines[1] == "《中国共产党纪律处分条例》（2023年版）第九十七条　违规收受礼品礼金"
    assert lines[2].startswith("收受可能影响公正执行公务的礼品、礼金")
    assert lines[-1].startswith("💡 ")
    assert "要点" not in lines[1]
    assert format_reading(quote).split("\n")[0] == lines[1]  # no date: no header


def test_format_reading_marks_a_summary_as_key_points(make_services):
    services = make_services(demo=False)
    summary = reading(services, "问责条例", "第六条")
    assert summary.is_summary
    first = format_reading(summary, date(2027, 1, 4)).split("\n")
    assert first[0] == "【每日纪法】2027年1月4日"
    assert first[1] == "《中国共产党问责条例》（2019年版）第六条　问责要分清责任（要点）"


@pytest.mark.parametrize("order", ["sequential", "shuffle"])
def test_an_empty_library_says_so(make_services, order):
    services = make_services(reading={"order": order})
    user = bind(services)
    with services.store.transaction() as db:
        db.execute("UPDATE readings SET in_rotation = 0")
    assert "纪法条文库还是空的" in say(services, user, "今日")
    with services.store.transaction() as db:
        assert reading_for(db, MONDAY, {"order": order}) is None
