"""Roster import through `python -m bot members import`: CSV (UTF-8 with BOM, GBK) and XLSX,
row errors in Chinese with their row numbers, and all-or-nothing writes."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook

from bot.cli import cli
from bot.config import load_config
from bot.store import Store, members

HEADER = ["姓名", "支部", "党小组", "手机", "企业微信账号", "角色"]
ROSTER = [
    ["张三", "机关第一党支部", "综合处党小组", "13912345678", "ZhangSan", "支部书记"],
    ["李四", "机关第一党支部", "综合处党小组", "139-1234-5679", "lisi", "党务干部"],
    ["王五", "机关第二党支部", "财务处党小组", "", "WangWu.01", "党员"],
    ["赵六", "机关第二党支部", "财务处党小组", "+8613912345681", "", ""],
]


@pytest.fixture(autouse=True)
def no_qingfeng_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("QINGFENG_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "roster.db"\n', encoding="utf-8")
    return path


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), *map(str, args)])


def import_file(config_path: Path, file: Path, *extra: str) -> Result:
    return run(config_path, "members", "import", file, *extra)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig",
              header: list[str] | None = None) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER if header is None else header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], header: list[str] | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER if header is None else header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


class Db:
    """Opens the CLI's database file to look at it, and closes it again."""

    def __init__(self, config_path: Path) -> None:
        self.path = load_config(config_path, env={}).store_path

    def __enter__(self):
        self.store = Store(self.path)
        return self.store.db

    def __exit__(self, *exc) -> None:
        self.store.close()


def snapshot(config_path: Path) -> tuple:
    """Everything an import may write: members, identities and the audit log."""
    with Db(config_path) as db:
        return (list(db.execute("SELECT * FROM members ORDER BY id")),
                list(db.execute("SELECT * FROM identities ORDER BY channel, external_id")),
                list(db.execute("SELECT * FROM audit ORDER BY id")))


def member_count(config_path: Path) -> int:
    with Db(config_path) as db:
        return members.count_members(db)


def by_name(db, name: str) -> members.Member:
    (found,) = [m for m in members.list_members(db) if m.name == name]
    return found


def assert_clean_failure(result: Result) -> None:
    """Refused with a sentence: non-zero exit, no traceback, nothing on stdout."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""


# --- good files ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-8"])
def test_import_csv(config_path, tmp_path, encoding):
    path = write_csv(tmp_path / "名册.csv", ROSTER, encoding)
    if encoding == "utf-8-sig":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = import_file(config_path, path)
    assert result.exit_code == 0, result.output
    assert "导入完成：新增 4 人，更新 0 人，关联企业微信账号 3 个。" in result.stdout
    with Db(config_path) as db:
        assert members.count_members(db) == 4
        zhang = by_name(db, "张三")
        assert (zhang.branch, zhang.grp, zhang.phone) == ("机关第一党支部", "综合处党小组",
                                                          "13912345678")
        assert by_name(db, "李四").phone == "13912345679"  # dashes taken out
        assert by_name(db, "赵六").phone == "+8613912345681"
        assert by_name(db, "王五").phone == ""
        assert not by_name(db, "王五").demo


def test_import_binds_wecom_userids_case_insensitively(config_path, tmp_path):
    result = import_file(config_path, write_csv(tmp_path / "r.csv", ROSTER))
    assert result.exit_code == 0, result.output
    with Db(config_path) as db:
        for userid in ("ZhangSan", "zhangsan", "ZHANGSAN"):
            found = members.find_by_identity(db, "wecom", userid)
            assert found is not None and found.name == "张三", userid
        assert members.find_by_identity(db, "wecom", "LISI").name == "李四"
        assert members.find_by_identity(db, "wecom", "wangwu.01").name == "王五"
        assert members.identities_of(db, by_name(db, "赵六").id) == []
        # Bound on WeCom only: the same id means nothing on another channel.
        assert members.find_by_identity(db, "mp", "zhangsan") is None
        assert members.identities_of(db, by_name(db, "张三").id) == [("wecom", "zhangsan", True)]


def test_roles_map(config_path, tmp_path):
    rows = ROSTER + [["孙七", "机关第二党支部", "", "", "", "党小组长"],
                     ["周八", "机关第二党支部", "", "", "", "预备党员"],
                     ["吴九", "机关第二党支部", "", "", "", "admin"]]
    assert import_file(config_path, write_csv(tmp_path / "r.csv", rows)).exit_code == 0
    with Db(config_path) as db:
        roles = {m.name: m.role for m in members.list_members(db)}
        admins = {m.name for m in members.list_members(db) if m.is_admin}
    assert roles == {"张三": "secretary", "李四": "admin", "王五": "member", "赵六": "member",
                     "孙七": "group_leader", "周八": "member", "吴九": "admin"}
    assert admins == {"张三", "李四", "吴九"}


def test_import_xlsx_with_phone_numbers_stored_as_numbers(config_path, tmp_path):
    rows: list[list[object]] = [
        ["张三", "机关第一党支部", "综合处党小组", 13912345678, "ZhangSan", "支部书记"],
        ["李四", "机关第一党支部", "综合处党小组", 13912345679.0, "LiSi", "党务干部"],
        ["王五", "机关第二党支部", "财务处党小组", None, None, "党员"],
        [" 赵六 ", "机关第二党支部", None, "13912345681", None, None],
    ]
    path = write_xlsx(tmp_path / "名册.xlsx", rows)
    result = import_file(config_path, path)
    assert result.exit_code == 0, result.output
    assert "新增 4 人" in result.stdout and "关联企业微信账号 2 个" in result.stdout
    with Db(config_path) as db:
        assert by_name(db, "张三").phone == "13912345678"
        assert by_name(db, "李四").phone == "13912345679"
        assert by_name(db, "赵六").phone == "13912345681"
        assert by_name(db, "赵六").grp == ""
        assert by_name(db, "张三").role == "secretary" and by_name(db, "王五").role == "member"
        assert members.find_by_identity(db, "wecom", "lisi").name == "李四"


def test_english_headers_and_extra_columns(config_path, tmp_path):
    header = ["name", "branch", "group", "备注", "phone", "wecom_userid", "role"]
    rows = [["张三", "一支部", "一组", "随便写", "13912345678", "zs", "secretary"]]
    assert import_file(config_path, write_csv(tmp_path / "r.csv", rows, header=header)).exit_code == 0
    with Db(config_path) as db:
        zhang = members.find_by_identity(db, "wecom", "ZS")
        assert (zhang.name, zhang.grp, zhang.role) == ("张三", "一组", "secretary")


def test_reimport_updates_rather_than_duplicates(config_path, tmp_path):
    assert import_file(config_path, write_csv(tmp_path / "a.csv", ROSTER)).exit_code == 0
    changed = [row[:] for row in ROSTER]
    changed[0][2] = "办公室党小组"   # 张三 moves group
    changed[0][5] = "党员"           # and is no longer secretary
    changed[1][3] = "13700000000"    # 李四 has a new phone
    changed.append(["孙七", "机关第二党支部", "财务处党小组", "", "SunQi", ""])
    result = import_file(config_path, write_csv(tmp_path / "b.csv", changed, "gbk"))
    assert result.exit_code == 0, result.output
    # Only 张三 and 李四 change; 王五 and 赵六 are as they were; only 孙七's account is new.
    assert "新增 1 人，更新 2 人，关联企业微信账号 1 个" in result.stdout
    with Db(config_path) as db:
        assert members.count_members(db) == 5
        zhang = by_name(db, "张三")
        assert (zhang.grp, zhang.role) == ("办公室党小组", "member")
        assert by_name(db, "李四").phone == "13700000000"
        assert members.find_by_identity(db, "wecom", "zhangsan").id == zhang.id
        identities = db.execute("SELECT count(*) FROM identities").fetchone()[0]
        assert identities == 4
    # The same file again changes nothing and says so (issue 12: it said 「更新 5 人」).
    again = import_file(config_path, tmp_path / "b.csv")
    assert again.exit_code == 0, again.output
    assert "导入完成：没有变化。" in again.stdout and "更新" not in again.stdout
    assert member_count(config_path) == 5


def test_an_unchanged_roster_is_no_change_in_the_dry_run_and_the_import(config_path, tmp_path):
    path = write_csv(tmp_path / "r.csv", ROSTER)
    first = import_file(config_path, path, "--dry-run")
    assert "检查通过：4 行（未写入）；导入将新增 4 人，更新 0 人，关联企业微信账号 3 个。" in first.stdout
    assert import_file(config_path, path).exit_code == 0
    dry = import_file(config_path, path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "检查通过：4 行（未写入）；与现有名册相同，没有变化。" in dry.stdout
    again = import_file(config_path, path)
    assert "导入完成：没有变化。" in again.stdout
    with Db(config_path) as db:
        details = [row[0] for row in db.execute(
            "SELECT detail FROM audit WHERE action = 'roster import' ORDER BY id")]
    assert '"updated": 0' in details[-1] and '"wecom": 0' in details[-1]


@pytest.mark.parametrize("change", ["deactivated", "unbound", "phone"])
def test_a_real_change_still_counts_once(config_path, tmp_path, change):
    """Reactivating a member, re-linking an account that was switched off (unsubscribed), or
    one changed cell: one member updated (or one account linked), the others unchanged."""
    path = write_csv(tmp_path / "r.csv", ROSTER)
    assert import_file(config_path, path).exit_code == 0
    rows = [row[:] for row in ROSTER]
    with Db(config_path) as db:
        zhang = by_name(db, "张三").id
        if change == "deactivated":
            db.execute("UPDATE members SET active = 0 WHERE id = ?", [zhang])
        elif change == "unbound":
            db.execute("UPDATE identities SET active = 0 WHERE member_id = ?", [zhang])
        else:
            rows[0][3] = "13900000000"
        db.conn.commit()
    expected = {"deactivated": "更新 1 人，关联企业微信账号 0 个",
                "unbound": "更新 0 人，关联企业微信账号 1 个",
                "phone": "更新 1 人，关联企业微信账号 0 个"}[change]
    changed = write_csv(tmp_path / "s.csv", rows)
    assert expected in import_file(config_path, changed, "--dry-run").stdout
    assert f"导入完成：新增 0 人，{expected}。" in import_file(config_path, changed).stdout
    assert "没有变化" in import_file(config_path, changed).stdout


def test_dry_run_writes_nothing(config_path, tmp_path):
    before = snapshot(config_path)
    result = import_file(config_path, write_csv(tmp_path / "r.csv", ROSTER), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "检查通过：4 行（未写入）" in result.stdout
    assert snapshot(config_path) == before
    assert member_count(config_path) == 0


def test_dry_run_reports_errors_too(config_path, tmp_path):
    rows = ROSTER + [["", "机关第一党支部", "", "", "", ""]]
    result = import_file(config_path, write_csv(tmp_path / "r.csv", rows), "--dry-run")
    assert_clean_failure(result)
    assert "第 6 行：缺少姓名" in result.stderr
    assert member_count(config_path) == 0


def test_members_list(config_path, tmp_path):
    assert import_file(config_path, write_csv(tmp_path / "r.csv", ROSTER)).exit_code == 0
    result = run(config_path, "members", "list")
    assert result.exit_code == 0, result.output
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == ["编号", "姓名", "支部", "党小组", "角色", "状态", "已绑定"]
    rows = {row[1]: row for row in table[1:]}
    assert set(rows) == {"张三", "李四", "王五", "赵六"}
    assert rows["张三"][2:] == ["机关第一党支部", "综合处党小组", "支部书记", "在册", "企业微信"]
    assert rows["李四"][4] == "党务干部"
    assert rows["赵六"][4:] == ["党员", "在册", "未绑定"]
    only = run(config_path, "members", "list", "--branch", "机关第二党支部")
    names = [row[1] for row in csv.reader(io.StringIO(only.stdout))][1:]
    assert sorted(names) == sorted(["王五", "赵六"])


# --- rows with errors: each reported with its row number, nothing written -----------------


def test_bad_rows_are_each_reported_and_nothing_is_written(config_path, tmp_path):
    assert import_file(config_path, write_csv(tmp_path / "first.csv", ROSTER[:1])).exit_code == 0
    before = snapshot(config_path)
    assert member_count(config_path) == 1
    rows = [
        ["钱一", "机关第一党支部", "综合处党小组", "13800000011", "QianYi", "党员"],   # 2: fine
        ["", "机关第一党支部", "综合处党小组", "13800000012", "", "党员"],            # 3
        ["钱三", "机关第一党支部", "综合处党小组", "12345", "", "党员"],              # 4
        ["钱四", "机关第一党支部", "综合处党小组", "", "", "队长"],                   # 5
        ["钱一", "机关第一党支部", "财务处党小组", "", "", "党员"],                   # 6
        ["钱六", "机关第二党支部", "财务处党小组", "", "qianyi", "党员"],             # 7
        ["钱七", "机关第二党支部", "财务处党小组", "", "zhangsan", "党员"],           # 8
        ["钱八", "", "财务处党小组", "", "", "党员"],                                  # 9
        ["钱九", "机关第二党支部", "", "", "钱九", ""],                                # 10
    ]
    result = import_file(config_path, write_csv(tmp_path / "bad.csv", rows))
    assert_clean_failure(result)
    errors = result.stderr
    assert "第 3 行：缺少姓名" in errors
    assert "第 4 行：手机号 12345 格式不对" in errors
    assert "第 5 行：角色「队长」无法识别" in errors
    assert "第 6 行：与第 2 行重复（同一支部同名）" in errors
    assert "第 7 行：企业微信账号 qianyi 与第 2 行重复" in errors
    assert "第 8 行：企业微信账号 zhangsan 已属于 机关第一党支部 张三" in errors
    assert "第 9 行：缺少支部" in errors
    assert "第 10 行：企业微信账号 钱九 含有不允许的字符" in errors
    assert "第 2 行" not in errors.replace("与第 2 行", "")
    assert "名册有 8 处错误，未导入任何数据。" in errors
    assert member_count(config_path) == 1
    assert snapshot(config_path) == before


@pytest.mark.parametrize("bad_row, message", [
    (["", "机关第一党支部", "", "", "", ""], "缺少姓名"),
    (["钱二", "机关第一党支部", "", "1391234567x", "", ""], "手机号 1391234567x 格式不对"),
    (["钱二", "机关第一党支部", "", "", "", "主任"], "角色「主任」无法识别"),
    (["张三", "机关第一党支部", "", "", "", ""], "与第 2 行重复"),
    (["钱二", "机关第一党支部", "", "", "ZHANGSAN", ""], "企业微信账号 ZHANGSAN 与第 2 行重复"),
])
def test_one_bad_row_stops_the_whole_file(config_path, tmp_path, bad_row, message):
    rows = ROSTER + [bad_row]
    result = import_file(config_path, write_csv(tmp_path / "r.csv", rows))
    assert_clean_failure(result)
    assert f"第 6 行：{message}" in result.stderr
    assert "名册有 1 处错误，未导入任何数据。" in result.stderr
    assert member_count(config_path) == 0
    with Db(config_path) as db:
        assert db.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_row_numbers_count_blank_lines_like_a_spreadsheet_does(config_path, tmp_path):
    text = "\ufeff姓名,支部,手机\n张三,一支部,13912345678\n,,\n\n李四,一支部,123\n"
    path = tmp_path / "gaps.csv"
    path.write_text(text, encoding="utf-8")
    result = import_file(config_path, path)
    assert_clean_failure(result)
    assert "第 5 行：手机号 123 格式不对" in result.stderr


def test_xlsx_row_numbers_with_a_blank_row(config_path, tmp_path):
    rows: list[list[object]] = [["张三", "一支部", None, 13912345678, None, None],
                                [None, None, None, None, None, None],
                                ["李四", "一支部", None, 123, None, "组员"]]
    result = import_file(config_path, write_xlsx(tmp_path / "gaps.xlsx", rows))
    assert_clean_failure(result)
    assert "第 4 行：手机号 123 格式不对" in result.stderr
    assert "第 4 行：角色「组员」无法识别" in result.stderr
    assert member_count(config_path) == 0


# --- files that cannot be read as a roster ------------------------------------------------


def real_xlsx_bytes(tmp_path: Path) -> bytes:
    return write_xlsx(tmp_path / "source.xlsx", [ROSTER[0]]).read_bytes()


def broken_sheet_xlsx(tmp_path: Path) -> bytes:
    good = write_xlsx(tmp_path / "good.xlsx", [ROSTER[0]])
    out = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return out.getvalue()


def empty_xlsx_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "empty-source.xlsx"
    Workbook().save(path)
    return path.read_bytes()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


@pytest.mark.parametrize("name, content, expected", [
    ("empty.csv", b"", "文件是空的"),
    ("blank.csv", b"\xef\xbb\xbf\n,,,\n  \n", "文件是空的"),
    ("empty.xlsx", empty_xlsx_bytes, "文件是空的"),
    ("roster.xls", b"anything", "不支持的文件类型 .xls"),
    ("roster.docx", b"anything", "不支持的文件类型 .docx"),
    ("roster", b"anything", "不支持的文件类型"),
    ("no-name.csv", "名字,支部,党小组\n张三,一支部,一组\n".encode(), "表头缺少列：姓名"),
    ("no-branch.csv", "姓名,部门\n张三,一支部\n".encode("gbk"), "表头缺少列：支部"),
    ("no-header.csv", "张三,一支部\n李四,一支部\n".encode(), "表头缺少列：姓名、支部"),
    ("picture.csv", PNG, "不是文本格式"),
    ("excel.csv", real_xlsx_bytes, "不是文本格式"),
    ("noise.xlsx", bytes(range(256)) * 8, "无法读取 Excel 文件"),
    ("text.xlsx", "姓名,支部\n张三,一支部\n".encode(), "无法读取 Excel 文件"),
    ("truncated.xlsx", lambda tmp: real_xlsx_bytes(tmp)[:300], "无法读取 Excel 文件"),
    ("broken-sheet.xlsx", broken_sheet_xlsx, "无法读取 Excel 文件"),
    ("one-huge-field.csv", "姓名,支部\n".encode() + b"a" * 200_000, "CSV"),
])
def test_unreadable_files_are_refused_with_one_clear_line(config_path, tmp_path, name, content,
                                                          expected):
    assert import_file(config_path, write_csv(tmp_path / "first.csv", ROSTER)).exit_code == 0
    before = snapshot(config_path)
    path = tmp_path / name
    path.write_bytes(content(tmp_path) if callable(content) else content)
    result = import_file(config_path, path)
    assert_clean_failure(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0]
    assert snapshot(config_path) == before


def test_a_missing_file(config_path, tmp_path):
    result = import_file(config_path, tmp_path / "nowhere.csv")
    assert_clean_failure(result)
    assert "找不到文件" in result.stderr
    assert member_count(config_path) == 0


# --- the row limit: refused, never silently cut short -------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_too_many_rows_is_refused_not_truncated(config_path, tmp_path, monkeypatch, kind):
    from bot import roster

    monkeypatch.setattr(roster, "MAX_ROWS", 3)
    rows = [[f"成员{i}", "一支部", "", "", "", ""] for i in range(4)]
    path = (write_csv(tmp_path / "r.csv", rows) if kind == "csv"
            else write_xlsx(tmp_path / "r.xlsx", rows))
    result = import_file(config_path, path)
    assert_clean_failure(result)
    assert "行数太多（最多 3 行）" in result.stderr
    assert member_count(config_path) == 0


def test_blank_rows_do_not_count_against_the_limit(config_path, tmp_path, monkeypatch):
    from bot import roster

    monkeypatch.setattr(roster, "MAX_ROWS", 3)
    blank: list[object] = [None] * 6
    rows: list[list[object]] = [["成员1", "一支部"], blank, blank, ["成员2", "一支部"], blank,
                                ["成员3", "一支部"]]
    result = import_file(config_path, write_xlsx(tmp_path / "r.xlsx", rows))
    assert result.exit_code == 0, result.output
    assert "新增 3 人" in result.stdout
    assert member_count(config_path) == 3


def test_a_failure_half_way_through_writing_leaves_nothing(tmp_path, monkeypatch):
    """The checks passed, then the write failed (disk full, a race): all or nothing."""
    from datetime import datetime

    from bot import roster

    store = Store(tmp_path / "direct.db")
    try:
        check = roster.check_rows(roster.read_table(write_csv(tmp_path / "r.csv", ROSTER)), store)
        assert check.ok and len(check.rows) == 4
        calls = []
        real_bind = members.bind_identity

        def bind_then_fail(*args, **kwargs):
            calls.append(kwargs["external_id"])
            if len(calls) == 2:
                raise RuntimeError("disk full")
            real_bind(*args, **kwargs)

        monkeypatch.setattr(members, "bind_identity", bind_then_fail)
        with pytest.raises(RuntimeError, match="disk full"):
            roster.import_rows(store, check, actor="test", now=datetime(2026, 11, 23, 9, 0))
        assert calls == ["ZhangSan", "lisi"]  # it had written a member and a binding already
        db = store.db
        assert members.count_members(db) == 0
        assert db.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    finally:
        store.close()


def test_import_rows_refuses_a_check_with_errors(tmp_path):
    from datetime import datetime

    from bot import roster

    store = Store(tmp_path / "direct.db")
    try:
        check = roster.check_rows([{"name": "", "branch": "一支部"}], store)
        assert check.errors == ["第 2 行：缺少姓名"]
        with pytest.raises(roster.RosterError):
            roster.import_rows(store, check, actor="test", now=datetime(2026, 11, 23, 9, 0))
        assert members.count_members(store.db) == 0
    finally:
        store.close()
