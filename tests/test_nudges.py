"""Nudges (督学): a simulated October 2026 (the 国庆 break, the make-up Saturday 10-10) and the
start of November, the clock moved day by day over a seeded roster, tasks and check-ins, with
the real scheduler jobs delivering to the sandbox inbox. Then the one-a-day cap, escalation
to group leader and secretary, re-runs and crashes, misfire, the CLI and bad config values.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner

import bot.cli
from bot import delivery, nudges
from bot.cli import cli
from bot.clock import SHANGHAI
from bot.config import ConfigError, load_config
from bot.reminders import holiday_calendar
from bot.services import Services, build_services
from schedules import jobs
from tests.test_report import add_member, add_task, check_in, clear_tasks, done, write_config

NUDGE = {"enabled": True, "send_time": "09:30", "monthly_day": 3, "days_before_due": 3,
         "inactive_days": 5}
ONE = "第一党支部"
ZH, CW = "综合处党小组", "财务处党小组"
JUNE = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
# Who checks in (08:00 on working days) and until when.
CHECKS_IN_UNTIL = {"王书记": None, "张组长": None, "刘芳": None, "李红梅": None, "杨帆": None,
                   "赵磊": date(2026, 10, 9)}


def at(month: int, day: int, hour: int = 9, minute: int = 31) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def services(make_services) -> Services:
    return make_services(demo=False, nudge=NUDGE)


def seed(services: Services) -> dict[str, int]:
    clear_tasks(services)
    with services.store.transaction() as db:
        ids = {name: add_member(db, name, ONE, grp, role, joined=JUNE) for name, grp, role in (
            ("王书记", ZH, "secretary"), ("张组长", CW, "group_leader"), ("刘芳", CW, "member"),
            ("李红梅", CW, "member"), ("杨帆", CW, "member"), ("赵磊", ZH, "member"),
            ("孙悦", ZH, "member"))}
        # July to September: 刘芳 did none, 李红梅 only July's, 杨帆 all but September's.
        for month, skip in (("2026-07", {"刘芳"}), ("2026-08", {"刘芳", "李红梅"}),
                            ("2026-09", {"刘芳", "李红梅", "杨帆"})):
            task = add_task(db, month, 1, f"{int(month[5:])}月学习", f"{month}-28")
            for name in ids.keys() - skip:
                done(db, task, ids[name], f"{month}-20")
        tasks = {
            "A": add_task(db, "2026-10", 1, "学习《纪律处分条例》第七章", "2026-10-11"),
            "B": add_task(db, "2026-10", 2, "主题党日：参观廉政教育基地", "2026-10-20"),
            "C": add_task(db, "2026-10", 3, "观看警示教育片", "2026-10-30"),
            "D": add_task(db, "2026-10", 4, "学习《廉洁自律准则》", "2026-10-13",
                          audience={"groups": [CW]}),
            "O": add_task(db, "2026-10", 5, "选学：问责条例", "2026-10-15", required=False),
            "E": add_task(db, "2026-11", 1, "学习《监察法》", "2026-11-30"),
        }
    services.seed_tasks = tasks  # type: ignore[attr-defined]
    return ids


def complete(services: Services, ids: dict[str, int], day: date) -> None:
    """What members do at 08:00 on `day`, before the nudges go out at 09:30."""
    tasks = services.seed_tasks  # type: ignore[attr-defined]
    plan = {date(2026, 10, 8): {"王书记": "ABCD", "张组长": "ABCD", "赵磊": "ABC", "孙悦": "ABC"},
            date(2026, 10, 9): {"李红梅": "A"},
            date(2026, 10, 12): {"杨帆": "AB"},
            date(2026, 11, 2): {"王书记": "E"}}.get(day, {})
    with services.store.transaction() as db:
        for name, letters in plan.items():
            for letter in letters:
                done(db, tasks[letter], ids[name], day.isoformat())
        if holiday_calendar(services).is_workday(day):
            for name, until in CHECKS_IN_UNTIL.items():
                if until is None or day <= until:
                    check_in(db, ids[name], day.isoformat())


def tick(services: Services) -> None:
    jobs.fire_nudges(services)
    jobs.drain_deliveries(services)


def inbox(services: Services, member_id: int) -> list[str]:
    return [text for (text,) in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


def all_inboxes(services: Services) -> Counter[int]:
    return Counter(m for (m,) in services.store.db.execute("SELECT member_id FROM sandbox_inbox"))


def nudge_log(services: Services, ids: dict[str, int]) -> dict[str, dict[str, str]]:
    names = {v: k for k, v in ids.items()}
    log: dict[str, dict[str, str]] = {}
    for member_id, day, rule in services.store.db.execute(
            "SELECT member_id, day, rule FROM nudges ORDER BY day, member_id"):
        log.setdefault(day, {})[names[member_id]] = rule
    return log


def simulate(services: Services, clock, ids: dict[str, int], start: date, end: date) -> None:
    day = start
    while day <= end:
        clock.set(at(day.month, day.day, 8, 0))
        complete(services, ids, day)
        tick(services)  # 08:00: nothing is due yet
        clock.set(at(day.month, day.day))
        tick(services)
        clock.set(at(day.month, day.day, 17, 0))
        tick(services)
        day += timedelta(days=1)


EXPECTED_LOG = {
    "2026-10-08": {"刘芳": "behind", "李红梅": "behind", "杨帆": "behind", "孙悦": "inactive"},
    "2026-10-10": {"刘芳": "due", "李红梅": "due", "杨帆": "due"},     # the make-up Saturday
    "2026-10-14": {"赵磊": "inactive"},
    "2026-10-16": {"刘芳": "due", "李红梅": "due"},
    "2026-10-27": {"刘芳": "due", "李红梅": "due", "杨帆": "due"},
    "2026-11-02": {"刘芳": "behind", "李红梅": "behind", "杨帆": "behind"},
    "2026-11-03": {"张组长": "monthly", "刘芳": "monthly", "李红梅": "monthly", "杨帆": "monthly",
                   "赵磊": "monthly", "孙悦": "monthly"},
}


@pytest.fixture
def simulated(services, clock):
    ids = seed(services)
    clock.set(at(9, 30, 18, 0))
    tick(services)  # the job's first run: fires are counted from here
    simulate(services, clock, ids, date(2026, 10, 1), date(2026, 11, 3))
    return ids


def test_a_simulated_month_nudges_the_right_members_on_the_right_working_days(
        services, simulated):
    ids = simulated
    assert nudge_log(services, ids) == EXPECTED_LOG
    # Nothing during the 国庆 break, on Sundays or on ordinary Saturdays.
    calendar = holiday_calendar(services)
    assert all(calendar.is_workday(date.fromisoformat(day)) for day in EXPECTED_LOG)
    # Every nudge was delivered, once, privately.
    for name in ("刘芳", "李红梅", "杨帆", "赵磊", "孙悦"):
        expected = sum(name in day for day in EXPECTED_LOG.values())
        assert len(inbox(services, ids[name])) == expected, name
    assert services.store.db.execute(
        "SELECT count(*) FROM deliveries WHERE status != 'sent'").fetchone()[0] == 0


def test_texts_name_the_tasks_and_due_dates_politely_signed(services, simulated):
    ids = simulated
    liu = inbox(services, ids["刘芳"])
    assert liu[0] == (
        "您好！您9月份还有1项必学任务没有完成：\n1. 9月学习\n"
        "这已是连续第3个月未完成学习任务，请务必重视，尽快补学。\n"
        "回复「任务」可查看任务清单，学完后回复「完成 序号」即可登记。\n——第一党支部")
    assert liu[1] == (
        "您好！以下必学任务即将截止，您还没有登记完成：\n"
        "1. 学习《廉洁自律准则》（10月13日截止，还有3天）\n"
        "请合理安排时间，按时完成学习。回复「任务」可查看任务清单，学完后回复「完成 序号」即可登记。"
        "\n——第一党支部")
    # The weekend shift: B is due Tue 10-20, three days before is a Saturday -> Friday 10-16.
    assert "主题党日：参观廉政教育基地（10月20日截止，还有4天）" in liu[2]
    yang = inbox(services, ids["杨帆"])
    assert yang[0].startswith("您好！您9月份还有1项必学任务没有完成：\n1. 9月学习\n请抽时间尽快补学。")
    assert "观看警示教育片（10月30日截止，还有3天）" in yang[2]
    assert "连续第2个月" in yang[3]  # November 2: September and October
    zhao = inbox(services, ids["赵磊"])
    assert zhao[0] == ("您好！您已经5天没有学习打卡了。每天抽出几分钟学一学党纪法规，"
                       "学完回复「打卡」即可记录。\n——第一党支部")
    monthly = inbox(services, ids["孙悦"])[-1]
    assert monthly.startswith("您好！本月（11月）还有1项必学任务您尚未完成：\n"
                              "1. 学习《监察法》（11月30日截止，还有27天）")
    # The optional task is never mentioned.
    assert not any("问责条例" in text for m in ids.values() for text in inbox(services, m))


def test_escalation_tells_the_group_leader_and_the_secretary_once_per_month(services, simulated):
    ids = simulated
    leader, secretary = inbox(services, ids["张组长"]), inbox(services, ids["王书记"])
    # 张组长: one notice in October (刘芳, 李红梅), one in November (all three), then the
    # November monthly reminder about his own task E.
    assert len(leader) == 3 and leader[2].startswith("您好！本月（11月）")
    assert leader[0] == (
        "张组长同志：您好！您所在的财务处党小组有以下同志已连续两个月及以上未完成支部规定的必学任务：\n"
        "1. 刘芳（连续3个月；9月缺：9月学习）\n2. 李红梅（连续2个月；9月缺：9月学习）\n"
        "请您近期与他们谈心谈话，督促按时完成学习。\n——第一党支部")
    assert "1. 刘芳（连续4个月；10月缺：" in leader[1]
    assert "2. 李红梅（连续3个月；" in leader[1] and "3. 杨帆（连续2个月；" in leader[1]
    # 王书记: level 3 in October (刘芳) and in November (刘芳, 李红梅); no monthly (E done).
    assert len(secretary) == 2
    assert secretary[0] == (
        "王书记同志：您好！本支部以下同志已连续三个月及以上未完成支部规定的必学任务：\n"
        "1. 刘芳（财务处党小组，连续3个月；9月缺：9月学习）\n"
        "请您安排谈心谈话，了解情况，督促整改。\n——第一党支部")
    assert "1. 刘芳（财务处党小组，连续4个月；" in secretary[1]
    assert "2. 李红梅（财务处党小组，连续3个月；" in secretary[1] and "杨帆" not in secretary[1]
    rows = services.store.db.execute(
        "SELECT month, level, count(*), group_concat(DISTINCT told_member_id) FROM escalations"
        " GROUP BY month, level ORDER BY month, level").fetchall()
    assert rows == [("2026-09", 1, 3, f"{ids['刘芳']},{ids['李红梅']},{ids['杨帆']}"),
                    ("2026-09", 2, 2, str(ids["张组长"])), ("2026-09", 3, 1, str(ids["王书记"])),
                    ("2026-10", 1, 3, f"{ids['刘芳']},{ids['李红梅']},{ids['杨帆']}"),
                    ("2026-10", 2, 3, str(ids["张组长"])), ("2026-10", 3, 2, str(ids["王书记"]))]


def test_running_again_the_same_day_sends_nothing_twice(services, simulated, clock):
    before = all_inboxes(services)
    clock.set(at(11, 3, 10, 0))
    for _ in range(2):
        result = nudges.run_day(services, date(2026, 11, 3), clock.now())
        assert result.plan.nudges == [] and result.plan.notices == []
        jobs.drain_deliveries(services)
    # The scheduler's own fire re-handled (as after a crash before it was marked handled).
    with services.store.transaction() as db:
        db.execute("DELETE FROM kv WHERE key = 'builtin:nudges:handled'")
        db.execute("INSERT INTO kv (key, value) VALUES ('builtin:nudges:handled', ?)",
                   [at(11, 3, 9, 0).isoformat()])
    tick(services)
    assert all_inboxes(services) == before


# --- the one-a-day cap and the preview ------------------------------------------------------

def test_one_nudge_a_day_the_first_rule_wins_and_the_others_are_named(services, clock):
    ids = seed(services)
    settings = nudges.Settings.from_config(NUDGE)
    plan = nudges.plan_day(services.store.db, date(2026, 10, 8), settings,
                           holiday_calendar(services))
    got = {n.member.name: (n.rule, n.also) for n in plan.nudges}
    # Nobody checked in since June (seeded without check-ins): inactive matches everyone too.
    assert got["刘芳"] == ("behind", ("due", "monthly", "inactive"))
    assert got["王书记"] == ("due", ("monthly", "inactive"))
    assert got["孙悦"] == ("due", ("monthly", "inactive"))
    assert len(plan.nudges) == len(ids)
    assert services.store.db.execute("SELECT count(*) FROM nudges").fetchone()[0] == 0


def test_a_deferred_rule_fires_on_the_next_working_day(services, clock):
    """Inactive lost to 'behind' on 10-08; it is not lost: it goes out on 10-09."""
    ids = seed(services)
    clock.set(at(10, 7, 18))
    tick(services)
    for day in (8, 9):
        clock.set(at(10, day))
        tick(services)
    log = nudge_log(services, ids)
    assert log["2026-10-08"]["刘芳"] == "behind"
    assert log["2026-10-09"]["刘芳"] == "inactive"
    assert log["2026-10-09"]["王书记"] == "inactive"  # due and monthly were for 10-08 only


def test_a_member_already_nudged_today_by_hand_is_not_nudged_again(services, clock):
    ids = seed(services)
    clock.set(at(10, 8, 9, 0))
    nudges.run_day(services, clock.today(), clock.now())
    jobs.drain_deliveries(services)
    first = all_inboxes(services)
    assert first[ids["刘芳"]] == 1
    # Forget the escalation records: only the nudges table now stands between 刘芳 and a
    # second nudge today.
    with services.store.transaction() as db:
        db.execute("DELETE FROM escalations")
    clock.set(at(10, 8, 9, 45))
    jobs.fire_nudges(services)  # first run: counts from now
    nudges.run_day(services, clock.today(), clock.now())
    jobs.drain_deliveries(services)
    assert all_inboxes(services)[ids["刘芳"]] == 1


# --- crashes ------------------------------------------------------------------------------------

def test_a_crash_between_the_rows_and_the_broadcasts_is_finished_next_tick(
        services, clock, monkeypatch):
    ids = seed(services)
    clock.set(at(10, 7, 18))
    tick(services)
    clock.set(at(10, 8))

    def crash(*args, **kwargs):
        raise RuntimeError("killed")
    real = nudges.send_recorded
    monkeypatch.setattr(nudges, "send_recorded", crash)
    with pytest.raises(RuntimeError):
        jobs.fire_nudges(services)
    assert services.store.db.execute("SELECT count(*) FROM nudges").fetchone()[0] == len(ids)
    assert services.store.db.execute(
        "SELECT count(*) FROM broadcasts WHERE key LIKE 'nudge:%'").fetchone()[0] == 0
    monkeypatch.setattr(nudges, "send_recorded", real)
    clock.set(at(10, 8, 9, 40))
    tick(services)
    tick(services)
    assert all_inboxes(services) == Counter({m: 1 for m in ids.values()}) + Counter(
        {ids["张组长"]: 1, ids["王书记"]: 1})  # their notices
    stored = dict(services.store.db.execute("SELECT member_id, text FROM nudges").fetchall())
    assert inbox(services, ids["刘芳"]) == [stored[ids["刘芳"]]]


def test_a_crash_mid_expansion_then_a_new_process_sends_each_text_once(
        make_services, services, clock, monkeypatch):
    ids = seed(services)
    clock.set(at(10, 7, 18))
    tick(services)
    clock.set(at(10, 8))
    real_expand = delivery.expand
    calls = []

    def expand_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed during the fan-out")
        return real_expand(*args, **kwargs)
    monkeypatch.setattr(delivery, "expand", expand_then_die)
    with pytest.raises(RuntimeError):
        jobs.fire_nudges(services)
    monkeypatch.setattr(delivery, "expand", real_expand)
    assert services.store.db.execute(
        "SELECT count(*) FROM broadcasts WHERE status = 'expanding'").fetchone()[0] == 1
    # A new process on the same file: the drain resumes the fan-out with the stored text.
    again = build_services(services.config, clock)
    try:
        clock.set(at(10, 8, 9, 32))
        jobs.drain_deliveries(again)
        tick(again)
        tick(again)
    finally:
        again.store.close()
    stored = dict(services.store.db.execute("SELECT member_id, text FROM nudges").fetchall())
    for name, member_id in ids.items():
        texts = inbox(services, member_id)
        assert stored[member_id] in texts and texts.count(stored[member_id]) == 1, name


def test_a_missed_fire_is_recorded_and_behind_goes_out_the_next_working_day(services, clock):
    ids = seed(services)
    clock.set(at(10, 7, 18))
    tick(services)
    clock.set(at(10, 9, 9, 35))   # down from before 10-08 09:30 until now: 10-08 is missed
    tick(services)
    missed = services.store.db.execute(
        "SELECT key, status FROM broadcasts WHERE key LIKE 'nudge:%' AND status = 'missed'"
    ).fetchall()
    assert missed == [("nudge:2026-10-08", "missed")]
    log = nudge_log(services, ids)
    assert list(log) == ["2026-10-09"]
    assert log["2026-10-09"]["刘芳"] == "behind"   # not lost with the missed day


def test_disabled_nudges_send_nothing_and_no_backlog_when_turned_on(make_services, clock):
    off = make_services(demo=False, nudge={**NUDGE, "enabled": False})
    seed(off)
    clock.set(at(10, 7, 18))
    tick(off)
    for day in (8, 9, 12):
        clock.set(at(10, day))
        tick(off)
    assert off.store.db.execute("SELECT count(*) FROM nudges").fetchone()[0] == 0
    on = build_services(load_config({**{"store": {"path": off.store.path}},
                                     "nudge": NUDGE}), clock)
    try:
        tick(on)  # 10-12 09:31, already handled while off: nothing is caught up
        assert on.store.db.execute("SELECT count(*) FROM nudges").fetchone()[0] == 0
        clock.set(at(10, 13))
        tick(on)
        assert on.store.db.execute("SELECT count(DISTINCT day) FROM nudges").fetchone()[0] == 1
    finally:
        on.store.close()


# --- the command line -------------------------------------------------------------------------

@pytest.fixture
def cli_services(tmp_path, clock, monkeypatch):
    config = write_config(tmp_path)
    made = []

    def build(cfg, clock_=None):
        services = build_services(cfg, clock)
        made.append(services)
        return services
    monkeypatch.setattr(bot.cli, "build_services", build)
    services = build(load_config(config))
    ids = seed(services)
    yield config, services, ids
    for s in made:
        s.store.close()


def test_cli_preview_shows_who_gets_what_and_sends_nothing(cli_services):
    config, services, ids = cli_services
    result = CliRunner().invoke(cli, ["--config", str(config), "nudges", "preview",
                                      "--date", "2026-10-08"])
    assert result.exit_code == 0, result.output
    assert "2026-10-08（星期四）督学预览（不会发送）：提醒 7 人，告知党小组长或支部书记 2 人。" in result.output
    assert "【上月未完成】刘芳（第一党支部 财务处党小组）；另符合：临近截止、久未打卡（每人每天最多一条）" in result.output
    assert "【告知党小组长】张组长（关于：刘芳、李红梅）" in result.output
    assert "【告知支部书记】王书记（关于：刘芳）" in result.output
    db = services.store.db
    assert db.execute("SELECT count(*) FROM nudges").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM escalations").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0


@pytest.mark.parametrize("day, message", [
    ("2026-10-03", "2026-10-03（星期六）不是工作日，不发督学提醒。"),
    ("2026-10-10", "2026-10-10（星期六）督学预览"),   # the make-up working Saturday
])
def test_cli_preview_knows_the_holidays(cli_services, day, message):
    config, _services, _ids = cli_services
    result = CliRunner().invoke(cli, ["--config", str(config), "nudges", "preview", "--date", day])
    assert result.exit_code == 0 and message in result.output


@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow", "2026/10/08"])
def test_cli_preview_bad_date_is_one_clear_line(cli_services, bad):
    config, _services, _ids = cli_services
    result = CliRunner().invoke(cli, ["--config", str(config), "nudges", "preview", "--date", bad])
    assert result.exit_code == 2
    assert "日期应写作 2026-11-24" in result.output and "Traceback" not in result.output


def test_cli_run_sends_today_once(cli_services, clock):
    config, services, ids = cli_services
    clock.set(at(10, 8, 10, 0))
    result = CliRunner().invoke(cli, ["--config", str(config), "nudges", "run"])
    assert result.exit_code == 0, result.output
    assert "注意：自动督学未开启" in result.output  # the CLI's config has [nudge] off
    assert "督学提醒：提醒 7 人" in result.output and "仍待重试 0 条" in result.output
    sent = all_inboxes(services)
    assert sent[ids["刘芳"]] == 1 and sent[ids["张组长"]] == 2   # his own nudge + the notice
    again = CliRunner().invoke(cli, ["--config", str(config), "nudges", "run"])
    assert again.exit_code == 0 and "提醒 0 人" in again.output
    assert all_inboxes(services) == sent


# --- bad config values --------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({"send_time": "9:30"}, "nudge.send_time must look like 09:30, got '9:30'"),
    ({"send_time": "24:00"}, "nudge.send_time must look like 09:30"),
    ({"monthly_day": 0}, "nudge.monthly_day must be a day from 1 to 28, got 0"),
    ({"monthly_day": 29}, "nudge.monthly_day must be a day from 1 to 28, got 29"),
    ({"monthly_day": "20"}, "nudge.monthly_day must be a whole number, got '20'"),
    ({"days_before_due": -1}, "nudge.days_before_due must be 0 (on the due day) to 30, got -1"),
    ({"days_before_due": 31}, "nudge.days_before_due must be 0 (on the due day) to 30, got 31"),
    ({"days_before_due": True}, "nudge.days_before_due must be a whole number, got True"),
    ({"inactive_days": -3}, "nudge.inactive_days must be 0 (off) to 365, got -3"),
    ({"enabled": "yes"}, "nudge.enabled must be true or false, got 'yes'"),
    ({"every_day": True}, "unknown key nudge.every_day"),
])
def test_bad_config_values_are_one_line(tmp_path, values, message):
    with pytest.raises(ConfigError) as error:
        load_config({"store": {"path": str(tmp_path / "q.db")}, "nudge": values}, env={})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_config_from_the_environment(tmp_path):
    base = {"store": {"path": str(tmp_path / "q.db")}}
    config = load_config(base, env={"QINGFENG_NUDGE_ENABLED": "true",
                                    "QINGFENG_NUDGE_INACTIVE_DAYS": "0"})
    assert config.get("nudge.enabled") is True and config.get("nudge.inactive_days") == 0
    with pytest.raises(ConfigError, match="QINGFENG_NUDGE_MONTHLY_DAY: expected a whole number"):
        load_config(base, env={"QINGFENG_NUDGE_MONTHLY_DAY": "twenty"})


def test_inactive_days_zero_turns_that_rule_off(services):
    seed(services)  # nobody has checked in since joining in June

    def rules(inactive_days: int) -> set[str]:
        settings = nudges.Settings(monthly_day=28, days_before_due=3, inactive_days=inactive_days)
        plan = nudges.plan_day(services.store.db, date(2026, 10, 9), settings,
                               holiday_calendar(services))
        return {rule for n in plan.nudges for rule in (n.rule, *n.also)}

    assert rules(5) == {"behind", "inactive"}
    assert rules(0) == {"behind"}


def test_without_a_group_leader_the_secretary_hears_once_and_nobody_is_told_twice(
        services, clock):
    """A group without a leader: the secretary stands in, and hears of someone three months
    behind in one message (levels 2 and 3 both recorded). A branch with nobody to tell records
    that too, so it is not retried every day."""
    clear_tasks(services)
    with services.store.transaction() as db:
        ids = {name: add_member(db, name, branch, "无组长党小组", role, joined=JUNE)
               for name, branch, role in (("王书记", ONE, "secretary"), ("甲", ONE, "member"),
                                          ("乙", ONE, "member"), ("丙", "第二党支部", "member"))}
        for month in ("2026-07", "2026-08", "2026-09"):
            task = add_task(db, month, 1, f"{int(month[5:])}月学习", f"{month}-28")
            done(db, task, ids["王书记"], f"{month}-20")
            if month == "2026-07":
                done(db, task, ids["乙"], f"{month}-20")
    clock.set(at(10, 8))
    result = nudges.run_day(services, clock.today(), clock.now())
    jobs.drain_deliveries(services)
    [to_secretary, to_nobody] = sorted(result.plan.notices, key=lambda n: n.told is None)
    assert to_secretary.told.name == "王书记" and to_nobody.told is None
    assert [(m.name, months, levels) for m, months, levels in to_secretary.about] == [
        ("甲", 3, (2, 3)), ("乙", 2, (2,))]
    # Besides her own nudge (no check-in since June), one notice.
    [message] = [t for t in inbox(services, ids["王书记"]) if t.startswith("王书记同志")]
    assert message.startswith("王书记同志：您好！本支部以下同志已连续两个月及以上未完成支部规定的必学任务：\n"
                              "1. 甲（无组长党小组，连续3个月；9月缺：9月学习）\n"
                              "2. 乙（无组长党小组，连续2个月；9月缺：9月学习）")
    rows = services.store.db.execute(
        "SELECT member_id, level, told_member_id FROM escalations WHERE level > 1"
        " ORDER BY member_id, level").fetchall()
    assert rows == [(ids["甲"], 2, ids["王书记"]), (ids["甲"], 3, ids["王书记"]),
                    (ids["乙"], 2, ids["王书记"]), (ids["丙"], 2, None), (ids["丙"], 3, None)]
    clock.set(at(10, 9))
    again = nudges.run_day(services, clock.today(), clock.now())
    assert again.plan.notices == []
