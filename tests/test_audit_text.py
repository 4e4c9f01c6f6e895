"""bot/audit_text.py: every action code the code base writes has a Chinese sentence, new rows
(JSON facts) and old rows (free-form strings) both read as Chinese, and no code, snake_case,
dotted name or raw dict reaches a person."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from bot import audit_text
from bot.store import audit
from tests.paths import ROOT

SOURCES = ("bot", "handlers", "schedules")
# What a person must never see in the 操作日志 (tests/test_console_words_browser.py uses it too).
CODE_LIKE = re.compile(r"console:|chat:|login:|[A-Za-z]\w*_\w+|[A-Za-z]+\.[A-Za-z]+|[{}]"
                       r"|\b(?:cli|init|scheduler|admin|secretary|member|group_leader)\b")


def _module_dicts(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level NAME = {...: "code"} tables (schedules/admin.py's STATUS_ACTIONS)."""
    tables = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            values = [v.value for v in node.value.values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            for target in node.targets:
                if isinstance(target, ast.Name):
                    tables[target.id] = values
    return tables


def _codes(node: ast.expr, tables: dict[str, list[str]], where: str) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body, tables, where) + _codes(node.orelse, tables, where)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and node.value.id in tables:
        return tables[node.value.id]
    raise AssertionError(f"{where}: an audit action that is not a literal or a table's value "
                         f"({ast.unparse(node)}); the source walk cannot check it")


def _console_record_in(tree: ast.Module) -> bool:
    """Whether the module's bare `record(...)` is the console's audit (base.py defines it)."""
    return any(isinstance(node, ast.ImportFrom) and node.module == "bot.console.base"
               and any(alias.name == "record" for alias in node.names)
               or isinstance(node, ast.FunctionDef) and node.name == "record"
               and any(isinstance(n, ast.Attribute) and n.attr == "record" for n in ast.walk(node))
               for node in tree.body)


def _action_argument(call: ast.Call, console_record: bool) -> ast.expr | None:
    """The action of `audit.record(db, actor=, action=, ...)` or the console's
    `record(action, detail)`."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "record" \
            and isinstance(func.value, ast.Name) and func.value.id == "audit":
        return next((k.value for k in call.keywords if k.arg == "action"), None)
    if console_record and isinstance(func, ast.Name) and func.id == "record" and call.args:
        return call.args[0]
    return None


def written_codes() -> dict[str, str]:
    """Every action code written anywhere in bot/, handlers/, schedules/ -> where."""
    found: dict[str, str] = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            tables = _module_dicts(tree)
            console_record = _console_record_in(tree)
            passing_on = {id(node) for function in ast.walk(tree)  # the console's record()
                          if isinstance(function, ast.FunctionDef) and function.name == "record"
                          for node in ast.walk(function)}
            for call in ast.walk(tree):
                if id(call) in passing_on or not isinstance(call, ast.Call):
                    continue
                if (arg := _action_argument(call, console_record)) is not None:
                    where = f"{path.relative_to(ROOT)}:{call.lineno}"
                    for code in _codes(arg, tables, where):
                        found.setdefault(code, where)
    return found


def test_the_source_walk_finds_the_writers():
    codes = written_codes()
    # One from each kind of writer: store, CLI, console record(), chat, a table, an IfExp.
    for code in ("roster import", "task add", "report.download", "schedule cancelled",
                 "schedule paused", "member.reactivate", "account.disable", "login.failed"):
        assert code in codes


def test_every_action_written_has_a_chinese_sentence():
    missing = {code: where for code, where in written_codes().items()
               if code not in audit_text.ACTIONS}
    assert not missing, f"add these to bot/audit_text.py ACTIONS: {missing}"


def test_the_table_names_no_action_that_is_never_written():
    stale = set(audit_text.ACTIONS) - set(written_codes())
    assert not stale, stale


def test_every_label_is_chinese_and_every_old_format_has_a_parser():
    for code, action in audit_text.ACTIONS.items():
        assert re.fullmatch(r"[\u4e00-\u9fff]+", action.label), code
    assert set(audit_text.LEGACY) <= set(audit_text.ACTIONS)


@pytest.mark.parametrize(("actor", "name"), [
    ("console:张书记", "张书记"), ("cli", "命令行"), ("init", "初始化"), ("scheduler", "系统定时任务"),
    ("chat:王建国", "王建国"), ("login:李四", "李四"), ("console:", "系统"), ("test", "系统"),
    ("", "系统"),
])
def test_actor_names(actor, name):
    assert audit_text.actor_name(actor) == name


def test_actor_filter_takes_the_chinese_names():
    assert audit_text.actor_code("命令行") == "cli" and audit_text.actor_code(" 初始化 ") == "init"
    assert audit_text.actor_code("张书记") is None


SCHEDULE = {"schedule": 2, "kind": "weekly", "spec": {"time": "17:00", "weekdays": ["fri"]},
            "workdays_only": True, "audience": {"branches": ["第一党支部"]}, "content": "本周小结"}
TASK = {"task": 9, "slug": "2026-12-admin-1", "month": "2026-12", "position": 1, "title": "学党章",
        "due": "2026-12-18", "audience": {"all": True}}
NEW_ROWS = [  # (action, facts as the writer stores them, the sentence's detail)
    ("roster import", {"created": 0, "updated": 2, "wecom": 1},
     "新增 0 人，更新 2 人，关联企业微信账号 1 个"),
    ("roster import", {"created": 3, "updated": 0, "wecom": 0}, "新增 3 人，更新 0 人"),
    ("roster import", {"created": 0, "updated": 0, "wecom": 0}, "没有变化"),
    ("demo roster", {"members": 8}, "8 名演示成员"),
    ("regulation import", {"source": "中国共产党纪律处分条例", "version": "2023", "articles": 158},
     "《中国共产党纪律处分条例》2023年版，158 条"),
    ("content.import", {"source": "条例", "version": "2019", "articles": 12, "changed": 3},
     "《条例》2019年版，12 条，新增或更新 3 条"),
    ("content.import.preview", {"file": "条例.txt", "source": "条例", "version": "2019",
                                "articles": 12}, "文件 条例.txt，《条例》2019年版，12 条（尚未写入）"),
    ("content.import.discard", {"file": "条例.txt", "source": "条例"}, "文件 条例.txt，《条例》"),
    ("alert ack", {"alert": 3, "kind": "broadcast_failed:broadcast:12"}, "#3（群发结束时有发送失败）"),
    ("alert ack", {"alert": 4, "kind": "new_kind:wecom"}, "#4"),
    ("task add", TASK, "2026-12 第 1 项「学党章」，面向全体党员，12-18 截止"),
    ("task.edit", {**TASK, "fields": ["title", "due", "readings"]},
     "2026-12 第 1 项「学党章」：改了标题、截止日期、学习材料"),
    ("task.edit", {**TASK, "fields": []}, "2026-12 第 1 项「学党章」（无变化）"),
    ("task remove", TASK, "2026-12 第 1 项「学党章」"),
    ("tasks import", {"month": "2026-12", "file": "12月.toml", "added": 2, "updated": 1},
     "2026-12（文件 12月.toml）：新增 2 项，更新 1 项"),
    ("account.create", {"name": "李书记", "role": "secretary", "branch": "第二党支部"},
     "李书记（支部书记，第二党支部）"),
    ("account.role", {"name": "李书记", "role": "admin", "branch": None}, "李书记 改为管理员（全部支部）"),
    ("account.password", {"name": "李书记"}, "李书记"),
    ("member.bind-code", {"member": 3, "name": "王建国", "branch": "第一党支部"}, "王建国（第一党支部）"),
    ("login", {"ip": "127.0.0.1"}, "来自 127.0.0.1"),
    ("logout", {}, ""),
    ("denied", {"method": "GET", "path": "/admin/members/3", "what": "成员 #3",
                "branch": "第二党支部"}, "成员 #3（支部 第二党支部）"),
    ("denied", {"method": "GET", "path": "/admin/accounts", "need": "admin"}, "仅限管理员的页面"),
    ("report.download", {"month": "2026-11", "branch": None, "format": "xlsx", "rows": 12},
     "2026-11 学习情况月报（全部支部，XLSX，12 人）"),
    ("schedule add", SCHEDULE, "#2 每周五 17:00（仅工作日），发给第一党支部：本周小结"),
    ("schedule edit", {**SCHEDULE, "kind": "cron", "spec": {"cron": "0 8 * * 1"}},
     "#2 按 cron 表达式「0 8 * * 1」（仅工作日），发给第一党支部：本周小结"),
    ("schedule send-now", {"schedule": 2}, "#2"),
    ("task add", {"unexpected": "shape"}, ""),   # a hand-made row: the action's name suffices
    ("no such action", {"x": 1}, ""),
]


@pytest.mark.parametrize(("action", "facts", "detail"), NEW_ROWS)
def test_new_rows_read_as_chinese(action, facts, detail):
    stored = json.dumps(facts, ensure_ascii=False)
    assert audit_text.detail_text(action, stored) == detail


OLD_ROWS = [  # (action, the free-form detail rows held before JSON, how it reads now)
    ("roster import", "0 new, 2 updated, 1 WeCom accounts", "新增 0 人，更新 2 人，关联企业微信账号 1 个"),
    ("demo roster", "8 demo members", "8 名演示成员"),
    ("regulation import", "中国共产党纪律处分条例 2023: 158 articles",
     "《中国共产党纪律处分条例》2023年版，158 条"),
    ("alert ack", "#3 token_refresh:wecom", "#3（平台调用凭证多次获取失败）"),
    ("task add", "2026-12 #1 2026-12-admin-1", "2026-12 第 1 项"),
    ("task edit", "2026-12 #1 title, due", "2026-12 第 1 项：改了标题、截止日期"),
    ("tasks import", "2026-12 from 12.toml: 2 added, 1 updated",
     "2026-12（文件 12.toml）：新增 2 项，更新 1 项"),
    ("account.create", "李书记 角色=secretary 支部=第二党支部", "李书记（支部书记，第二党支部）"),
    ("account.role", "李书记 角色=admin 支部=全部", "李书记 改为管理员（全部支部）"),
    ("account.disable", "李书记", "李书记"),
    ("member.deactivate", "#3 第一党支部 王建国", "王建国（第一党支部）"),
    ("login.failed", "来自 10.0.0.8", "来自 10.0.0.8"),
    ("logout", "", ""),
    ("denied", "GET /admin/accounts: 需要管理员", "仅限管理员的页面"),
    ("denied", "GET /admin/members/3: 成员 #3（支部 第二党支部）", "成员 #3（支部 第二党支部）"),
    ("content.import.preview", "条例.txt：条例 2019，12 条", "文件 条例.txt，《条例》2019年版，12 条（尚未写入）"),
    ("content.import.discard", "条例.txt：条例", "文件 条例.txt，《条例》"),
    ("content.import", "条例 2019：12 条，新增或更新 3 条", "《条例》2019年版，12 条，新增或更新 3 条"),
    ("report.download", "2026-11 全部支部 XLSX（12 人）", "2026-11 学习情况月报（全部支部，XLSX，12 人）"),
    ("report.download", "2026-11 第一党支部 CSV（3 人）", "2026-11 学习情况月报（第一党支部，CSV，3 人）"),
    ("schedule add", "#2 once {'at': '2026-12-05T09:00'} -> 全体党员: 开会通知",
     "#2 2026-12-05 09:00，发给全体党员：开会通知"),
    ("schedule edit", "#2 weekly {'time': '17:00', 'weekdays': ['fri']} -> 第一党支部: 小结",
     "#2 每周五 17:00，发给第一党支部：小结"),
    ("schedule add", "#4 once 2026-12-05T09:00", "#4 2026-12-05 09:00"),
    ("schedule cancelled", "#1", "#1"),
    ("schedule send-now", "#7", "#7"),
    # Console rows that were Chinese already read as they were.
    ("task.add", "2026-12 第 1 项「学党章」，面向 全体党员，截止 2026-12-18",
     "2026-12 第 1 项「学党章」，面向 全体党员，截止 2026-12-18"),
    # Formats no parser knows: Chinese is shown, a code or a raw dict never.
    ("schedule add", "#2 once {'at': broken -> x: y", ""),
    ("roster import", "something else entirely", ""),
    ("task.edit", "{'title': '学党章'} 改了", ""),
]


@pytest.mark.parametrize(("action", "old", "detail"), OLD_ROWS)
def test_old_rows_read_as_chinese(action, old, detail):
    assert audit_text.detail_text(action, old) == detail


def test_a_row_is_one_sentence_with_the_year_only_when_it_is_not_this_year():
    row = {"at": "2026-12-04T09:12:30+08:00", "actor": "console:张书记", "action": "roster import",
           "detail": '{"created": 0, "updated": 2, "wecom": 0}'}
    assert audit_text.describe(row, 2026).sentence == "张书记 于 12-04 09:12 导入名册：新增 0 人，更新 2 人"
    assert audit_text.describe({**row, "action": "logout", "detail": ""}, 2027).sentence == (
        "张书记 于 2026-12-04 09:12 退出登录")
    unknown = audit_text.describe({**row, "actor": "bench", "action": "bench.x", "detail": "x=1"},
                                  2026)
    assert unknown.sentence == "系统 于 12-04 09:12 其他操作"


def test_no_sentence_shows_a_code():
    for action, facts, _ in NEW_ROWS:
        for actor in ("console:张书记", "cli", "init", "chat:王建国", "login:李四", "scheduler"):
            row = {"at": "2026-12-04T09:12:00", "actor": actor, "action": action,
                   "detail": json.dumps(facts, ensure_ascii=False)}
            sentence = audit_text.describe(row, 2026).sentence
            assert not CODE_LIKE.search(sentence.replace("access_token", "")), sentence
    for action, old, _ in OLD_ROWS:
        row = {"at": "2026-12-04T09:12:00", "actor": "cli", "action": action, "detail": old}
        sentence = audit_text.describe(row, 2026).sentence
        # access_token: the platform's word in bot/store/alerts.py's titles, kept for operators
        assert not CODE_LIKE.search(sentence.replace("access_token", "")), sentence


def test_the_filter_offers_one_chinese_name_per_action():
    choices = audit_text.action_choices(["task add", "task.add", "login", "bench.x", "zzz"])
    assert choices == [("login", "登录后台"), ("task add", "添加学习任务"), ("bench.x", "其他操作")]
    assert audit_text.codes_named_like("task.add") == ["task add", "task.add"]
    assert audit_text.codes_named_like("bench.x") == ["bench.x"]


def test_record_stores_facts_as_json(services):
    with services.store.transaction() as db:
        audit.record(db, actor="cli", action="roster import",
                     detail={"updated": 2, "created": 0, "wecom": 1}, at=services.clock.now())
    (detail,) = services.store.db.execute(
        "SELECT detail FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert detail == '{"created": 0, "updated": 2, "wecom": 1}'
    assert audit.facts(detail) == {"created": 0, "updated": 2, "wecom": 1}
    assert audit.facts("0 new, 2 updated") is None and audit.facts("{not json") is None
    assert audit.facts("[1, 2]") is None


def test_tests_root_is_the_repository():
    assert (Path(ROOT) / "bot" / "audit_text.py").is_file()
