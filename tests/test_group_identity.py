"""A group belongs to its branch: two branches that each have a 「第一党小组」 are two groups.

The seen attack first: 第一党支部's secretary, logged in to the console over HTTP, creates a
required task for 第一党小组 while 第二党支部 also has one; it must not appear in 第二党支部's
members' 任务 nor change that branch's report. The same through the CLI (`tasks add`,
`schedule add`) and chat 定时. Then the report and the escalation to group leaders, names
written alone (resolved when unique, refused naming the candidates when not), task files,
the roster's 党小组 column, and the upgrade of audiences stored before groups had a branch.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.cli
from bot import audience as audiences
from bot import nudges
from bot import report as reports
from bot.cli import cli
from bot.clock import SHANGHAI
from bot.config import load_config
from bot.conversation import handle_inbound
from bot.library import ContentError, load_tasks
from bot.messages import Inbound
from bot.reminders import holiday_calendar
from bot.roster import check_rows
from bot.seed import initialise
from bot.services import Services
from bot.store import Store, members
from bot.store import schedules as store_schedules
from bot.store import tasks as store_tasks
from bot.store.migrations import MIGRATIONS, _statements
from bot.tasks import sync_tasks
from schedules.runner import SchedulerRunner, default_jobs
from tests.console_helpers import logged_in, text, token
from tests.paths import CONTENT
from tests.test_report import add_task, clear_tasks

ONE, TWO = "第一党支部", "第二党支部"
G1 = "第一党小组"
ONE_G1, TWO_G1 = f"{ONE}/{G1}", f"{TWO}/{G1}"
AMBIGUOUS = f"有 2 个党小组叫“{G1}”：{ONE_G1}、{TWO_G1}，请写明支部"
MONTH = "2026-11"
EARLY = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
# name, branch, group, role: both branches have a 第一党小组 with a leader and a member.
ROSTER = (
    ("甲书记", ONE, G1, "secretary"),
    ("甲组长", ONE, G1, "group_leader"),
    ("甲党员", ONE, G1, "member"),
    ("甲二组", ONE, "第二党小组", "member"),
    ("乙书记", TWO, "", "secretary"),
    ("乙组长", TWO, G1, "group_leader"),
    ("乙党员", TWO, G1, "member"),
    ("乙干部", TWO, "", "admin"),
)
ONE_G1_NAMES = {"甲书记", "甲组长", "甲党员"}
_keys = itertools.count()


def seed(services: Services) -> dict[str, int]:
    """The roster above (on the roster since January), each bound to a sandbox identity."""
    clear_tasks(services)
    with services.store.transaction() as db:
        ids = {name: members.add_member(db, name=name, branch=branch, grp=grp, role=role,
                                        now=EARLY) for name, branch, grp, role in ROSTER}
        for member_id in ids.values():
            members.bind_identity(db, channel="sandbox", external_id=f"m{member_id}",
                                  member_id=member_id, now=EARLY)
    return ids


@pytest.fixture
def services(make_services) -> Services:
    return make_services(demo=False)


@pytest.fixture
def ids(services) -> dict[str, int]:
    return seed(services)


def say(services: Services, member_id: int, words: str) -> str:
    inbound = Inbound("sandbox", f"m{member_id}", "text", words, f"g-{next(_keys)}",
                      services.clock.now())
    return handle_inbound(services, inbound).text


def names(services: Services, audience: dict) -> set[str]:
    return {m.name for m in audiences.members_of(services.store.db, audience)}


def required_of(services: Services, branch: str) -> dict[str, int]:
    report = reports.month_report(services.store.db, MONTH, branch=branch,
                                  today=services.clock.today())
    return {row.name: row.required for row in report.rows}


def task_form(client, audience: str, title: str = "第一党小组专题学习") -> dict:
    return {"csrf_token": token(client, "/admin/tasks"), "title": title, "detail": "通读",
            "link": "", "due": "2026-11-28", "kind": "study", "required": "1",
            "audience": audience}


# --- the seen attack, through the console over HTTP ---------------------------------------------

def test_a_secretary_task_for_a_shared_group_name_stays_in_their_branch(services, client, ids):
    secretary = logged_in(services, client, "shuji1", role="secretary", branch=ONE)
    page = text(secretary.get(f"/admin/tasks/new?month={MONTH}"))
    assert f'value="group:{ONE_G1}"' in page and f"{ONE} · {G1}" in page
    assert TWO not in page  # the other branch's 第一党小组 is not offered
    # The form as it was before groups had a branch (or a crafted post): "group:第一党小组".
    response = secretary.post(f"/admin/tasks/new?month={MONTH}",
                              data=task_form(secretary, f"group:{G1}"))
    assert response.status_code == 302
    (task,) = store_tasks.month_tasks(services.store.db, MONTH)
    assert task.audience == {"groups": [ONE_G1]} and task.required
    # 第二党支部's member is not asked to do it, and their branch's report does not change.
    assert "第一党小组专题学习" not in say(services, ids["乙党员"], "任务")
    assert required_of(services, TWO) == dict.fromkeys(
        ("乙书记", "乙组长", "乙党员", "乙干部"), 0)
    assert "第一党小组专题学习" in say(services, ids["甲党员"], "任务")
    assert required_of(services, ONE) == {"甲书记": 1, "甲组长": 1, "甲党员": 1, "甲二组": 0}
    # The page shows whose group it is.
    listing = text(secretary.get("/admin/tasks", query_string={"month": MONTH}))
    assert f"{ONE} · {G1}" in listing


def test_a_secretary_cannot_name_the_other_branchs_group(services, client, ids):
    secretary = logged_in(services, client, "shuji1", role="secretary", branch=ONE)
    for audience in (f"group:{TWO_G1}", f"group:{TWO}／{G1}"):
        response = secretary.post(f"/admin/tasks/new?month={MONTH}",
                                  data=task_form(secretary, audience))
        assert response.status_code == 400 and "请从列表中选择" in text(response)
    assert store_tasks.month_tasks(services.store.db, MONTH) == []


def test_an_admin_naming_a_shared_group_alone_is_told_the_candidates(services, client, ids):
    admin = logged_in(services, client, "root")
    page = text(admin.get(f"/admin/tasks/new?month={MONTH}"))
    assert f'value="group:{ONE_G1}"' in page and f'value="group:{TWO_G1}"' in page
    response = admin.post(f"/admin/tasks/new?month={MONTH}", data=task_form(admin, f"group:{G1}"))
    assert response.status_code == 400 and AMBIGUOUS in text(response)
    assert store_tasks.month_tasks(services.store.db, MONTH) == []
    unique = admin.post(f"/admin/tasks/new?month={MONTH}", data=task_form(admin, "group:第二党小组"))
    assert unique.status_code == 302  # a name only one branch has still works
    (task,) = store_tasks.month_tasks(services.store.db, MONTH)
    assert task.audience == {"groups": [f"{ONE}/第二党小组"]}


def test_a_secretary_schedules_for_their_own_group_in_the_console(services, client, ids):
    secretary = logged_in(services, client, "shuji1", role="secretary", branch=ONE)
    page = text(secretary.get("/admin/schedules/new"))
    assert f'value="{ONE_G1}"' in page and TWO_G1 not in page
    form = {"kind": "once", "at": "2026-11-30T10:00", "target": "groups", "content": "text",
            "text": "小组学习", "branches": ONE}

    def post(**fields: str):
        return secretary.post("/admin/schedules/new",
                              data={**form, **fields, "csrf_token": token(secretary)})

    assert post(groups=TWO_G1).status_code == 403
    assert post(groups=G1).status_code == 403  # a bare name is not provably theirs
    assert store_schedules.list_all(services.store.db) == []
    created = post(groups=ONE_G1)
    assert created.status_code == 303
    (schedule,) = store_schedules.list_all(services.store.db)
    assert schedule.audience == {"groups": [ONE_G1]}
    assert names(services, schedule.audience) == ONE_G1_NAMES
    # It is theirs: listed, and its edit page keeps the group (not the whole branch).
    assert f"/admin/schedules/{schedule.id}" in text(secretary.get("/admin/schedules"))
    edit = text(secretary.get(f"/admin/schedules/{schedule.id}/edit"))
    assert f'value="{ONE_G1}" checked' in edit


def test_an_admin_schedule_form_names_both_groups_and_refuses_the_bare_name(services, client,
                                                                            ids):
    admin = logged_in(services, client, "root")
    page = text(admin.get("/admin/schedules/new"))
    assert f"{ONE} · {G1}" in page and f"{TWO} · {G1}" in page
    form = {"kind": "once", "at": "2026-11-30T10:00", "target": "groups", "content": "text",
            "text": "小组学习", "csrf_token": token(admin)}
    preview = admin.post("/admin/schedules/preview", data={**form, "groups": G1}).get_json()
    assert preview == {"ok": False, "error": AMBIGUOUS, "fields": ["target", "branches", "groups"]}
    preview = admin.post("/admin/schedules/preview", data={**form, "groups": TWO_G1}).get_json()
    assert preview["ok"] and preview["audience_size"] == 2
    assert preview["audience"] == f"{TWO} · {G1}"


# --- the same through the CLI --------------------------------------------------------------------

@pytest.fixture
def run(tmp_path, built):
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"\n\n'
                    "[sandbox]\nenabled = true\n", encoding="utf-8")
    services = bot.cli.build_services(load_config(path))
    initialise(services, demo=False)
    seed(services)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--config", str(path), *args])
    return invoke


def test_the_cli_refuses_a_shared_group_name_and_takes_the_branch(run, built):
    db = built[0].store.db
    task = ("tasks", "add", "--title", "小组学习", "--due", "2026-11-28", "--group")
    refused = run(*task, G1)
    assert refused.exit_code == 1 and f"{AMBIGUOUS}。" in refused.output
    assert store_tasks.month_tasks(db, MONTH) == []
    added = run(*task, ONE_G1)
    assert added.exit_code == 0, added.output
    assert added.output == f"已添加 {MONTH} 第 1 项：小组学习（11-28 截止，{ONE} · {G1}）\n"
    (stored,) = store_tasks.month_tasks(db, MONTH)
    assert stored.audience == {"groups": [ONE_G1]}
    assert run(*task, f"{ONE}/第九党小组").output.strip().endswith(
        f"{ONE}没有党小组「第九党小组」（现有：第一党小组、第二党小组）。")

    schedule = ("schedule", "add", "--at", "2026-12-01 08:00", "--text", "小组学习", "--group")
    refused = run(*schedule, G1)
    assert refused.exit_code == 1 and AMBIGUOUS in refused.output
    assert store_schedules.list_all(db) == []
    added = run(*schedule, TWO_G1)
    assert added.exit_code == 0, added.output
    assert f"发送对象：{TWO} · {G1}（2 人）" in added.output
    (stored_schedule,) = store_schedules.list_all(db)
    assert names(built[0], stored_schedule.audience) == {"乙组长", "乙党员"}


def test_a_task_file_naming_a_shared_group_alone_is_refused_by_import(run, built, tmp_path):
    month_file = tmp_path / "2026-11.toml"
    month_file.write_text(
        'month = "2026-11"\n\n[[task]]\nid = "group-study"\ntitle = "小组学习"\ndetail = "通读"\n'
        f'due = "2026-11-28"\nrequired = true\nkind = "study"\naudience = {{groups = ["{G1}"]}}\n',
        encoding="utf-8")
    refused = run("tasks", "import", str(month_file))
    assert refused.exit_code == 1
    assert "field 'audience'" in refused.output and AMBIGUOUS in refused.output
    assert store_tasks.month_tasks(built[0].store.db, MONTH) == []


# --- the same through chat 定时 -------------------------------------------------------------------

def test_chat_a_secretarys_group_is_their_branchs_and_only_they_get_it(services, clock, ids):
    preview = say(services, ids["甲书记"], f"定时 12-01 08:00 {G1} 小组学习")
    assert f"对象：{ONE} · {G1}（3 人）" in preview
    assert say(services, ids["甲书记"], "确认").startswith("已创建定时消息 1")
    (schedule,) = store_schedules.list_all(services.store.db)
    assert schedule.audience == {"groups": [ONE_G1]}
    runner = SchedulerRunner(services, jobs=default_jobs())
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI))
    runner.tick()
    runner.tick()
    got = {name for name, member_id in ids.items() if "小组学习" in inbox(services, member_id)}
    assert got == ONE_G1_NAMES
    # and the other branch's group is not theirs to address
    assert say(services, ids["甲书记"], f"定时 12-02 08:00 {TWO_G1} 小组学习") == (
        f"支部书记只能给本支部（{ONE}）发送定时消息。")


def test_chat_an_admin_is_asked_which_group_and_may_write_the_branch(services, ids):
    asked = say(services, ids["乙干部"], f"定时 12-01 08:00 {G1} 小组学习")
    assert asked == f"{AMBIGUOUS}，例如「{ONE_G1}」。"
    assert say(services, ids["乙干部"], "确认").startswith("没有待确认的定时消息")
    for written in (TWO_G1, f"{TWO}／{G1}"):
        assert f"对象：{TWO} · {G1}（2 人）" in say(services, ids["乙干部"],
                                                  f"定时 12-01 08:00 {written} 小组学习")
    assert say(services, ids["乙干部"], "确认").startswith("已创建定时消息 1")
    (schedule,) = store_schedules.list_all(services.store.db)
    assert schedule.audience == {"groups": [TWO_G1]}
    assert say(services, ids["乙干部"], f"定时 12-01 08:00 {TWO}/第九党小组 小组学习") == (
        f"{TWO}没有党小组「第九党小组」（现有：{G1}）。")


def inbox(services: Services, member_id: int) -> str:
    return "\n".join(row[0] for row in services.store.db.execute(
        "SELECT text FROM sandbox_inbox WHERE external_id = ?", [f"m{member_id}"]))


# --- reports and escalation keep two same-named groups apart ----------------------------------

def test_the_report_keeps_two_same_named_groups_apart(services, ids):
    with services.store.transaction() as db:
        add_task(db, MONTH, 1, "一支部小组学习", "2026-11-28", audience={"groups": [ONE_G1]})
    report = reports.month_report(services.store.db, MONTH, today=services.clock.today())
    groups = {(b.branch, grp): tally for b in report.branches for grp, tally in b.groups.items()}
    assert groups[(ONE, G1)].with_tasks == 3 and groups[(ONE, G1)].not_done == [
        "甲书记", "甲组长", "甲党员"]
    assert groups[(TWO, G1)].with_tasks == 0 and groups[(TWO, G1)].not_done == []


def test_a_group_leader_hears_only_of_their_own_branchs_group(services, ids):
    """Two months behind: each 第一党小组's leader is told of their own people only."""
    with services.store.transaction() as db:
        for month, day in (("2026-09", "2026-09-25"), ("2026-10", "2026-10-28")):
            add_task(db, month, 1, f"{month} 一支部小组学习", day, audience={"groups": [ONE_G1]})
            add_task(db, month, 2, f"{month} 二支部小组学习", day, audience={"groups": [TWO_G1]})
    plan = nudges.plan_day(services.store.db, date(2026, 11, 2),
                           nudges.Settings(monthly_day=3, days_before_due=3, inactive_days=0),
                           holiday_calendar(services))
    told = {n.told.name: {m.name for m, _months, _levels in n.about}
            for n in plan.notices if n.told is not None}
    assert told["甲组长"] == {"甲书记", "甲党员"}
    assert told["乙组长"] == {"乙党员"}
    notice = next(n for n in plan.notices if n.told and n.told.name == "乙组长")
    assert "一支部小组学习" not in notice.text and "甲" not in notice.text


# --- naming a group ---------------------------------------------------------------------------

def test_resolving_a_group_name(services, ids):
    db = services.store.db
    assert audiences.resolve_group(db, ONE_G1) == ONE_G1
    assert audiences.resolve_group(db, f" {TWO}／{G1} ") == TWO_G1
    assert audiences.resolve_group(db, "第二党小组") == f"{ONE}/第二党小组"
    assert audiences.resolve_group(db, G1, within=TWO) == TWO_G1
    with pytest.raises(audiences.AudienceError, match=f"^{AMBIGUOUS}$"):
        audiences.resolve_group(db, G1)
    with pytest.raises(audiences.AudienceError, match="名册里没有党小组「无此小组」"):
        audiences.resolve_group(db, "无此小组")
    with pytest.raises(audiences.AudienceError, match=f"^{TWO}没有党小组「第二党小组」"):
        audiences.resolve_group(db, "第二党小组", within=TWO)
    with pytest.raises(audiences.AudienceError, match="党小组名称不能为空"):
        audiences.resolve_group(db, "  ")
    assert audiences.resolve_group(db, "无此小组", keep_unknown=True) == "无此小组"
    assert audiences.describe({"groups": [ONE_G1, "旧名"]}) == f"{ONE} · {G1}、旧名"
    assert audiences.branch_of({"groups": [ONE_G1, f"{ONE}/第二党小组"]}) == ONE
    for mixed in ({"groups": [ONE_G1, TWO_G1]}, {"groups": [G1]}, {"groups": [ONE_G1],
                                                                     "roles": ["member"]}):
        assert audiences.branch_of(mixed) is None
    # A stored bare name keeps its old meaning: every group of that name.
    assert names(services, {"groups": [G1]}) == ONE_G1_NAMES | {"乙组长", "乙党员"}
    assert names(services, {"groups": [TWO_G1]}) == {"乙组长", "乙党员"}


def test_the_store_refuses_a_shared_bare_name_and_writes_nothing(services, ids):
    with (pytest.raises(store_tasks.TaskError, match=f"^{AMBIGUOUS}。$"),
          services.store.transaction() as db):
        store_tasks.add_task(db, month=MONTH, title="小组学习", due="2026-11-28",
                             now=services.clock.now(), audience={"groups": [G1]})
    assert store_tasks.month_tasks(services.store.db, MONTH) == []


# --- content/tasks files ------------------------------------------------------------------------

def month_file(tmp_path: Path, group: str) -> Path:
    path = tmp_path / "tasks" / "2026-11.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        'month = "2026-11"\n\n[[task]]\nid = "group-study"\ntitle = "小组学习"\ndetail = "通读"\n'
        f'due = "2026-11-28"\nrequired = true\nkind = "study"\naudience = {{groups = ["{group}"]}}\n',
        encoding="utf-8")
    return path


def sync_file(services: Services, path: Path) -> None:
    with services.store.transaction() as db:
        sync_tasks(db, load_tasks(path), services.clock.now())


def test_a_task_file_group_is_resolved_at_sync_and_a_shared_name_is_refused(services, ids,
                                                                             tmp_path):
    sync_file(services, month_file(tmp_path, "第二党小组"))
    (task,) = store_tasks.month_tasks(services.store.db, MONTH)
    assert task.audience == {"groups": [f"{ONE}/第二党小组"]}
    with pytest.raises(ContentError) as refused:
        sync_file(services, month_file(tmp_path, G1))
    assert str(refused.value) == (f"{tmp_path / 'tasks' / '2026-11.toml'}: task group-study: "
                                  f"field 'audience': {AMBIGUOUS}")
    (unchanged,) = store_tasks.month_tasks(services.store.db, MONTH)
    assert unchanged.audience == {"groups": [f"{ONE}/第二党小组"]}
    sync_file(services, month_file(tmp_path, TWO_G1))
    assert store_tasks.month_tasks(services.store.db, MONTH)[0].audience == {"groups": [TWO_G1]}


def test_a_roster_change_that_shares_a_file_groups_name_does_not_stop_init(services, ids,
                                                                            tmp_path):
    path = month_file(tmp_path, "第二党小组")
    sync_file(services, path)
    with services.store.transaction() as db:  # 第二党支部 gets a 第二党小组 too
        members.add_member(db, name="乙新人", branch=TWO, grp="第二党小组", now=EARLY)
    sync_file(services, path)  # the next init: the group keeps the branch it was given
    (task,) = store_tasks.month_tasks(services.store.db, MONTH)
    assert task.audience == {"groups": [f"{ONE}/第二党小组"]}
    assert "乙新人" not in names(services, task.audience)


def test_a_task_file_group_nobody_is_in_yet_waits_for_the_roster(services, tmp_path):
    path = month_file(tmp_path, "新成立党小组")
    sync_file(services, path)
    assert store_tasks.month_tasks(services.store.db, MONTH)[0].audience == {
        "groups": ["新成立党小组"]}
    with services.store.transaction() as db:
        members.add_member(db, name="新人", branch=TWO, grp="新成立党小组", now=EARLY)
    sync_file(services, path)
    assert store_tasks.month_tasks(services.store.db, MONTH)[0].audience == {
        "groups": [f"{TWO}/新成立党小组"]}


@pytest.mark.parametrize("group", [f"{ONE}/", f"/{G1}", " / "])
def test_a_task_file_group_with_half_a_name_is_a_content_error(tmp_path, group):
    with pytest.raises(ContentError, match="should be \"支部/党小组\""):
        load_tasks(month_file(tmp_path, group))


# --- the roster's 党小组 column -------------------------------------------------------------------

def test_the_roster_reads_the_group_column_within_the_rows_branch(services):
    rows = [{"name": "甲", "branch": ONE, "grp": ONE_G1, "_line": "2"},
            {"name": "乙", "branch": ONE, "grp": "办公室/人事处党小组", "_line": "3"},
            {"name": "丙", "branch": "机关/第三党支部", "grp": "", "_line": "4"},
            {"name": "丁", "branch": ONE, "grp": f"{ONE}/", "_line": "5"}]
    check = check_rows(rows, services.store)
    assert [r.grp for r in check.rows[:2]] == [G1, "办公室/人事处党小组"]
    assert check.errors == ["第 4 行：支部名称「机关/第三党支部」不能含有“/”",
                            f"第 5 行：党小组「{ONE}/」缺少小组名称"]


# --- the upgrade: audiences stored with a bare group name --------------------------------------

GROUPS_MIGRATION = next((i for i, script in enumerate(MIGRATIONS)
                         if "json_each(schedules.audience, '$.groups')" in script), len(MIGRATIONS))


def database_before_groups_had_a_branch(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:GROUPS_MIGRATION]):
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    for name, branch, grp, role in ROSTER:
        conn.execute("INSERT INTO members (name, branch, grp, role, created_at) VALUES"
                     " (?, ?, ?, ?, ?)", [name, branch, grp, role, EARLY.isoformat()])
    conn.execute("INSERT INTO members (name, branch, grp, active, created_at) VALUES"
                 " ('离开的', '第二党支部', '第二党小组', 0, ?)", [EARLY.isoformat()])
    for audience in ({"groups": ["第二党小组", G1, "无人小组"]}, {"all": True}):
        conn.execute("INSERT INTO schedules (kind, spec, audience, content, created_by,"
                     " created_at) VALUES ('daily', '{\"time\": \"08:30\"}', ?, '{\"text\": \"早\"}',"
                     " 'cli', ?)", [json.dumps(audience, ensure_ascii=False), EARLY.isoformat()])
    conn.execute("INSERT INTO tasks (slug, month, position, title, due, required, audience,"
                 " origin, removed, created_at, updated_at) VALUES ('old', '2026-11', 1, '旧任务',"
                 " '2026-11-28', 1, ?, 'admin', 0, ?, ?)",
                 [json.dumps({"groups": [G1, "第二党小组"], "roles": ["member"]},
                             ensure_ascii=False), EARLY.isoformat(), EARLY.isoformat()])
    conn.close()


def test_the_upgrade_writes_the_branch_where_one_branch_has_the_group(tmp_path):
    path = tmp_path / "old.db"
    database_before_groups_had_a_branch(path)
    store = Store(path)
    try:
        db = store.db
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        stored = [json.loads(a) for (a,) in db.execute("SELECT audience FROM schedules ORDER BY id")]
        # 第二党小组: only 第一党支部's is active (第二党支部's one member left); 第一党小组: both
        # branches, left as written; nobody's 无人小组: left too.
        assert stored == [{"groups": [f"{ONE}/第二党小组", G1, "无人小组"]}, {"all": True}]
        task = store_tasks.by_slug(db, "old")
        assert task.audience == {"groups": [G1, f"{ONE}/第二党小组"], "roles": ["member"]}
        assert audiences.stored_problems(db) == [
            f"定时消息 #1 的对象“{G1}”不明确，{AMBIGUOUS}（现在发给所有同名党小组）",
            f"2026-11 第 1 项任务「旧任务」的对象“{G1}”不明确，{AMBIGUOUS}（现在发给所有同名党小组）"]
    finally:
        store.close()


def test_config_check_and_init_warn_of_an_ambiguous_stored_group(tmp_path, built):
    path = tmp_path / "old.db"
    database_before_groups_had_a_branch(path)
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{path}"\n[content]\npath = "{CONTENT}"\n', encoding="utf-8")
    warning = f"注意：定时消息 #1 的对象“{G1}”不明确，{AMBIGUOUS}（现在发给所有同名党小组）"
    # config check reads the old database as it is (it migrates nothing): the same warning.
    checked = CliRunner().invoke(cli, ["--config", str(config), "config", "check"])
    assert warning in checked.output.splitlines()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == GROUPS_MIGRATION
    initialised = CliRunner().invoke(cli, ["--config", str(config), "init", "--no-demo"])
    assert initialised.exit_code == 0, initialised.output
    assert warning in initialised.output.splitlines()
