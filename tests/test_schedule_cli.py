"""`python -m bot schedule ...` and `deliveries drain`, through click's CliRunner with a real
config file in tmp_path. Services are built with the test clock (Monday 2026-11-23 09:00), so
previews' "next five fire times" are fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot import delivery
from bot.cli import cli
from bot.config import load_config
from bot.services import Services, build_services
from bot.store import members
from bot.store import schedules as store_schedules
from tests.paths import CONTENT

Run = Callable[..., Result]


def write_config(path: Path, *, sandbox: bool = True, extra: str = "") -> Path:
    path.write_text(
        f'[store]\npath = "{path.parent / "cli.db"}"\n\n'
        f'[content]\npath = "{CONTENT}"\n\n'
        f"[sandbox]\nenabled = {'true' if sandbox else 'false'}\n{extra}",
        encoding="utf-8")
    return path


def make_run(config: Path) -> Run:
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, ["--config", str(config), *args])
        if ok:
            assert result.exit_code == 0, result.output
            assert result.exception is None
        return result
    return run


@pytest.fixture
def run(tmp_path, built) -> Run:
    run = make_run(write_config(tmp_path / "config.toml"))
    assert "已添加 8 名演示成员" in run("init").output
    return run


@pytest.fixture
def db(tmp_path, clock, run) -> Iterator[Services]:
    """The same database, seen from the test (a separate Store)."""
    services = build_services(load_config(tmp_path / "config.toml"), clock)
    yield services
    services.store.close()


def schedule_count(services: Services) -> int:
    return services.store.db.execute("SELECT count(*) FROM schedules").fetchone()[0]


def inbox(services: Services, member_id: int) -> list[str]:
    return [row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ? ORDER BY id", [f"m{member_id}"])]


# --- add, with previews -----------------------------------------------------------------------


def test_add_each_kind_shows_audience_size_next_five_fires_and_the_text(run, db):
    once = run("schedule", "add", "--at", "2026-12-01 08:00", "--branch", "第一党支部",
               "--text", "请于本周五前完成第三章学习").output
    assert once.splitlines() == [
        "已创建定时消息 1：2026-12-01 08:00",
        "发送对象：第一党支部（4 人）",
        "接下来的发送时间：2026-12-01 08:00",
        "成员看到的内容：",
        "请于本周五前完成第三章学习",
    ]

    daily = run("schedule", "add", "--daily", "08:30", "--workdays-only", "--all",
                "--text", "早上好，开始今天的学习").output
    assert daily.splitlines()[:3] == [
        "已创建定时消息 2：每天 08:30（仅工作日）",
        "发送对象：全体党员（8 人）",
        "接下来的发送时间：2026-11-24 08:30、2026-11-25 08:30、2026-11-26 08:30、"
        "2026-11-27 08:30、2026-11-30 08:30",  # the weekend skipped
    ]

    weekly = run("schedule", "add", "--weekly", "mon,fri 17:00", "--group", "综合处党小组",
                 "--text", "本周学习小结").output
    assert weekly.splitlines()[:3] == [
        "已创建定时消息 3：每周一、周五 17:00",
        "发送对象：第一党支部 · 综合处党小组（2 人）",
        "接下来的发送时间：2026-11-23 17:00、2026-11-27 17:00、2026-11-30 17:00、"
        "2026-12-04 17:00、2026-12-07 17:00",
    ]

    monthly = run("schedule", "add", "--monthly", "1 09:00", "--role", "secretary", "--role",
                  "admin", "--text", "主题党日：请准时参加").output
    assert monthly.splitlines()[:3] == [
        "已创建定时消息 4：每月 1 日 09:00",
        "发送对象：支部书记、党务干部（2 人）",
        "接下来的发送时间：2026-12-01 09:00、2027-01-01 09:00、2027-02-01 09:00、"
        "2027-03-01 09:00、2027-04-01 09:00",
    ]

    cron = run("schedule", "add", "--cron", "0 8 * * 1", "--member", "2", "--member", "3",
               "--reading").output
    assert cron.splitlines() == [
        "已创建定时消息 5：按 cron 表达式「0 8 * * 1」",
        "发送对象：2 名指定党员（2 人）",
        "接下来的发送时间：2026-11-30 08:00、2026-12-07 08:00、2026-12-14 08:00、"
        "2026-12-21 08:00、2026-12-28 08:00",
        "成员看到的内容：",
        "（发送当天的每日纪法条文）",
    ]

    reminder = run("schedule", "add", "--at", "2026-12-18 09:00", "--branch", "第二党支部",
                   "--reminder", "year-end").output
    assert reminder.splitlines()[:3] == [
        "已创建定时消息 6：2026-12-18 09:00",
        "发送对象：第二党支部（4 人）",
        "接下来的发送时间：2026-12-18 09:00",
    ]
    assert reminder.rstrip().endswith("第二党支部")  # {branch} filled in the preview
    assert "{branch}" not in reminder

    rows = store_schedules.list_all(db.store.db)
    assert [(s.id, s.kind, s.status, s.created_by) for s in rows] == [
        (1, "once", "active", "cli"), (2, "daily", "active", "cli"),
        (3, "weekly", "active", "cli"), (4, "monthly", "active", "cli"),
        (5, "cron", "active", "cli"), (6, "once", "active", "cli")]
    assert rows[1].spec == {"time": "08:30"} and rows[1].workdays_only
    assert rows[2].spec == {"time": "17:00", "weekdays": ["mon", "fri"]}
    assert rows[3].audience == {"roles": ["secretary", "admin"]}
    assert rows[4].content == {"reading": "today"} and rows[4].audience == {"members": [2, 3]}
    assert rows[5].content == {"reminder": "year-end"}
    audit = db.store.db.execute(
        "SELECT count(*) FROM audit WHERE action = 'schedule add'").fetchone()[0]
    assert audit == 6


def test_list_and_preview(run):
    assert run("schedule", "list").output == "还没有定时消息。\n"
    run("schedule", "add", "--at", "2026-12-01 08:00", "--branch", "第一党支部", "--text",
        "请于本周五前完成第三章学习")
    run("schedule", "add", "--weekly", "Monday,Friday 09:00", "--all", "--text", "周例会")
    assert run("schedule", "list").output.splitlines() == [
        "  1  生效中  2026-12-01 08:00  → 第一党支部：请于本周五前完成第三章学习",
        "  2  生效中  每周一、周五 09:00  → 全体党员：周例会",
    ]
    assert run("schedule", "preview", "2").output.splitlines() == [
        "发送对象：全体党员（8 人）",
        "接下来的发送时间：2026-11-27 09:00、2026-11-30 09:00、2026-12-04 09:00、"
        "2026-12-07 09:00、2026-12-11 09:00",
        "成员看到的内容：",
        "周例会",
    ]


# --- show, send-now, drain ---------------------------------------------------------------------


def test_send_now_then_show_counts_per_broadcast(run, db, clock):
    run("schedule", "add", "--daily", "18:00", "--branch", "第一党支部", "--text", "今晚学习")
    show = run("schedule", "show", "1").output.splitlines()
    assert show == ["定时消息 1（生效中），由 命令行 创建于 2026-11-23 09:00",
                    "时间：每天 18:00", "对象：第一党支部", "内容：今晚学习", "尚未发送过。"]

    sent = run("schedule", "send-now", "1").output
    assert "已发送：应发 4，已送达 4，待重试 0，失败 0，无法送达 0" in sent
    assert [inbox(db, m) for m in (1, 2, 3, 4, 5)] == [["今晚学习"]] * 4 + [[]]

    clock.advance(minutes=5)
    run("schedule", "send-now", "1")
    show = run("schedule", "show", "1").output.splitlines()
    assert show[-2:] == ["2026-11-23T09:05  应发 4，已送达 4，待发 0，失败 0，无法送达 0",
                         "2026-11-23T09:00  应发 4，已送达 4，待发 0，失败 0，无法送达 0"]
    assert inbox(db, 1) == ["今晚学习", "今晚学习"]
    assert db.store.db.execute(
        "SELECT count(*) FROM audit WHERE action = 'schedule send-now'").fetchone()[0] == 2


def test_show_gives_failure_reasons(tmp_path, built, clock, monkeypatch):
    """No sandbox, an Official Account without its app secret: nobody can be reached, and
    `show` says why, per reason."""
    monkeypatch.setenv("QINGFENG_MP_TOKEN", "token")
    config = write_config(tmp_path / "config.toml", sandbox=False,
                          extra='\n[mp]\nenabled = true\napp_id = "wx0123456789abcdef"\n')
    run = make_run(config)
    run("init")
    services = build_services(load_config(config), clock)
    with services.store.transaction() as tx:
        members.bind_identity(tx, channel="mp", external_id="openid-1", member_id=1,
                              now=clock.now())
    run("schedule", "add", "--daily", "18:00", "--branch", "第一党支部", "--text", "今晚学习")
    assert "应发 4，已送达 0，待重试 0，失败 0，无法送达 4" in run("schedule", "send-now", "1").output
    show = run("schedule", "show", "1").output.splitlines()
    assert show[-3:] == ["2026-11-23T09:00  应发 4，已送达 0，待发 0，失败 0，无法送达 4",
                         "    1 人：channel mp is not enabled",
                         "    3 人：no channel: not bound to WeCom or the Official Account"]
    services.store.close()


def test_show_marks_a_missed_fire(run, db, clock):
    run("schedule", "add", "--at", "2026-11-23 10:00", "--all", "--text", "十点通知")
    from schedules import jobs

    clock.set(clock.now().replace(hour=12))  # down from before 10:00 until 12:00
    jobs.fire_admin_schedules(db)
    assert run("schedule", "show", "1").output.splitlines()[0] == (
        "定时消息 1（已完成），由 命令行 创建于 2026-11-23 09:00")
    assert run("schedule", "show", "1").output.splitlines()[-1] == (
        "2026-11-23T10:00  错过（服务停机超过宽限期，未补发）")


def test_deliveries_drain_sends_pending_rows_and_finishes_a_half_expanded_broadcast(
        run, db, clock):
    assert run("deliveries", "drain").output == "本次处理 0 条；仍待重试 0 条。\n"
    # A fire whose rows exist but were never sent (the process died before draining).
    first = delivery.create_broadcast(db, key="test:pending", text="待发通知",
                                      audience={"branches": ["第二党支部"]}, fire_at=clock.now())
    # And one that died half-way through writing its rows.
    with db.store.transaction() as tx:
        tx.execute("INSERT INTO broadcasts (key, fire_at, text, audience, created_at) VALUES"
                   " ('test:half', ?, '半途通知', '{\"all\": true}', ?)",
                   [clock.now().isoformat(), clock.now().isoformat()])
        half = tx.execute("SELECT id FROM broadcasts WHERE key = 'test:half'").fetchone()[0]
        tx.execute("INSERT INTO deliveries (broadcast_id, member_id, channel, external_id, text)"
                   " VALUES (?, 1, 'sandbox', 'm1', '半途通知')", [half])
    assert run("deliveries", "drain").output == "本次处理 12 条；仍待重试 0 条。\n"
    assert inbox(db, 1) == ["半途通知"]
    assert inbox(db, 5) == ["待发通知", "半途通知"]
    for broadcast_id, targeted in ((first, 4), (half, 8)):
        counts = delivery.counts(db.store.db, broadcast_id)
        assert (counts.targeted, counts.sent) == (targeted, targeted)
    assert run("deliveries", "drain").output == "本次处理 0 条；仍待重试 0 条。\n"
    assert inbox(db, 1) == ["半途通知"]


# --- pause, resume, cancel ----------------------------------------------------------------------


def test_pause_resume_cancel_and_illegal_transitions(run, db):
    run("schedule", "add", "--daily", "18:00", "--all", "--text", "晚间学习")

    def status() -> str:
        schedule = store_schedules.get(db.store.db, 1)
        assert schedule is not None
        return schedule.status

    assert run("schedule", "pause", "1").output == "定时消息 1 已暂停。\n"
    assert status() == "paused"
    refused = run("schedule", "pause", "1", ok=False)
    assert refused.exit_code == 1
    assert "定时消息 1 当前状态为「已暂停」，不能改为「已暂停」" in refused.output
    assert "已暂停" in run("schedule", "list").output

    assert run("schedule", "resume", "1").output == "定时消息 1 已恢复（暂停期间到期的不补发）。\n"
    assert status() == "active"
    refused = run("schedule", "resume", "1", ok=False)
    assert refused.exit_code == 1 and "当前状态为「生效中」，不能改为「生效中」" in refused.output

    assert run("schedule", "cancel", "1").output == "定时消息 1 已取消。\n"
    assert status() == "cancelled"
    for command in ("pause", "resume", "cancel"):
        refused = run("schedule", command, "1", ok=False)
        assert refused.exit_code == 1 and "当前状态为「已取消」" in refused.output
        assert status() == "cancelled"
    assert run("schedule", "list").output == "还没有定时消息。\n"
    assert "已取消" in run("schedule", "list", "--all").output
    actions = [a for (a,) in db.store.db.execute(
        "SELECT action FROM audit WHERE action LIKE 'schedule %' ORDER BY id")]
    assert actions == ["schedule add", "schedule paused", "schedule active",
                       "schedule cancelled"]


# --- bad inputs: a clear error, nothing created -----------------------------------------------


GOOD_TIME = ("--daily", "08:00")
GOOD_AUDIENCE = ("--all",)
GOOD_TEXT = ("--text", "学习通知")


@pytest.mark.parametrize(("args", "code", "says"), [
    (("--at", "2026-12-01 08:00", *GOOD_TIME, *GOOD_AUDIENCE, *GOOD_TEXT), 2,
     "请在 --at、--daily、--weekly、--monthly、--cron 中选且只选一个"),
    ((*GOOD_AUDIENCE, *GOOD_TEXT), 2,
     "请在 --at、--daily、--weekly、--monthly、--cron 中选且只选一个"),
    (("--daily", "25:00", *GOOD_AUDIENCE, *GOOD_TEXT), 1, "时间请写成 时:分（24 小时制），如 08:30"),
    (("--at", "2026-12-01 25:00", *GOOD_AUDIENCE, *GOOD_TEXT), 1,
     "只发一次需要日期和时间，如 2026-12-01 08:00"),
    (("--weekly", "mon,xyz 08:00", *GOOD_AUDIENCE, *GOOD_TEXT), 1, "每周发送需要选择星期几"),
    (("--monthly", "first 08:00", *GOOD_AUDIENCE, *GOOD_TEXT), 2,
     "应写作几号和时间，如 '1 09:00'"),
    (("--monthly", "32 08:00", *GOOD_AUDIENCE, *GOOD_TEXT), 1,
     "每月发送需要 1 到 31 之间的日期"),
    (("--cron", "0 8 * *", *GOOD_AUDIENCE, *GOOD_TEXT), 1,
     "cron 表达式要有 5 项，依次是 分 时 日 月 星期"),
    (("--cron", "0 25 * * *", *GOOD_AUDIENCE, *GOOD_TEXT), 1, "cron 表达式「0 25 * * *」有误：「时」一项（25）无法识别"),
    (("--cron", "0 8 30 2 *", *GOOD_AUDIENCE, *GOOD_TEXT), 1, "今后不会发送"),
    (("--at", "2026-11-23 08:00", *GOOD_AUDIENCE, *GOOD_TEXT), 1, "今后不会发送"),
    ((*GOOD_TIME, "--branch", "第九党支部", *GOOD_TEXT), 1, "发送对象「第九党支部」中没有在册党员"),
    ((*GOOD_TIME, "--member", "99", *GOOD_TEXT), 1, "中没有在册党员"),
    ((*GOOD_TIME, *GOOD_AUDIENCE, "--reminder", "no-such-reminder"), 1,
     "没有编号为「no-such-reminder」的廉洁提醒"),
    ((*GOOD_TIME, *GOOD_AUDIENCE, "--text", ""), 1, "消息内容不能为空"),
    ((*GOOD_TIME, *GOOD_AUDIENCE, "--text", "   "), 1, "消息内容不能为空"),
    ((*GOOD_TIME, *GOOD_AUDIENCE, "--text", "学" * 601), 1, "消息太长（最多 600 字）"),
    ((*GOOD_TIME, *GOOD_AUDIENCE), 2, "请在 --text、--reading、--reminder 中选且只选一个"),
    ((*GOOD_TIME, *GOOD_AUDIENCE, *GOOD_TEXT, "--reading"), 2,
     "请在 --text、--reading、--reminder 中选且只选一个"),
    ((*GOOD_TIME, *GOOD_TEXT), 2,
     "请指定发给谁：--all、--branch、--group、--member 或 --role"),
    ((*GOOD_TIME, "--role", "boss", *GOOD_TEXT), 2, "'boss' is not one of"),
], ids=["two-times", "no-time", "daily-25:00", "at-25:00", "bad-weekday", "monthly-no-day",
        "monthly-day-32", "cron-four-fields", "cron-hour-25", "cron-feb-30", "once-in-the-past",
        "unknown-branch", "unknown-member", "unknown-reminder", "empty-text", "blank-text",
        "text-too-long", "no-content", "two-contents", "no-audience", "unknown-role"])
def test_bad_input_gives_a_clear_error_and_creates_nothing(run, db, args, code, says):
    result = run("schedule", "add", *args, ok=False)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert "已创建" not in result.output
    assert schedule_count(db) == 0


def test_a_text_of_exactly_600_characters_is_fine(run, db):
    run("schedule", "add", *GOOD_TIME, *GOOD_AUDIENCE, "--text", "学" * 600)
    assert schedule_count(db) == 1


@pytest.mark.parametrize("command", ["show", "preview", "pause", "resume", "cancel", "send-now"])
def test_an_unknown_schedule_id_is_named(run, db, command):
    result = run("schedule", command, "99", ok=False)
    assert result.exit_code == 1
    assert "没有编号为 99 的定时消息" in result.output
    assert db.store.db.execute("SELECT count(*) FROM broadcasts").fetchone()[0] == 0


def test_a_broken_config_is_one_line(tmp_path, built):
    config = tmp_path / "broken.toml"
    config.write_text("[store]\npath = 3\n", encoding="utf-8")
    result = make_run(config)("schedule", "list", ok=False)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {config}: store.path must be a string, got 3"
