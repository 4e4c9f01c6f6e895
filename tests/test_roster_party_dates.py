"""The roster's 入党时间 / 转正时间 columns: every spelling an office's sheet has (CSV and real
Excel date cells), bad dates as row errors with nothing written, dates kept by a re-import, the
console's preview and members page. CLI through click (as tests/test_roster.py), the console
through the Flask test client; real SQLite files."""

from __future__ import annotations

import io
import os
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.party_dates import PartyDateError, read_date
from bot.store import members, party_dates
from tests.console_helpers import login, make_account, token
from tests.test_roster import (
    Db,
    assert_clean_failure,
    by_name,
    import_file,
    snapshot,
    write_csv,
    write_xlsx,
)

HEADER = ["姓名", "支部", "党小组", "入党时间", "转正时间"]
TODAY = date(2026, 11, 23)


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


def dates(db, name: str) -> party_dates.PartyDates:
    member_id = by_name(db, name).id
    return party_dates.dates_of(db, [member_id])[member_id]


@pytest.mark.parametrize(("cell", "expected"), [
    ("2001-07-01", date(2001, 7, 1)), ("2001/7/1", date(2001, 7, 1)),
    ("2001年7月1日", date(2001, 7, 1)), ("2001.07.01", date(2001, 7, 1)),
    ("2001 年 7 月 1 日", date(2001, 7, 1)), ("２００１年７月１日", date(2001, 7, 1)),
    ("20010701", date(2001, 7, 1)), ("2001-07-01 00:00:00", date(2001, 7, 1)),
    ("1921-07-01", date(1921, 7, 1)), ("2026-11-23", TODAY), ("", None), ("  ", None),
])
def test_the_spellings_a_sheet_has(cell, expected):
    assert read_date(cell, "入党时间", TODAY) == expected


@pytest.mark.parametrize(("cell", "problem"), [
    ("2026-11-24", "入党时间「2026-11-24」晚于今天"),
    ("2001-02-30", "入党时间「2001-02-30」不是真实存在的日期"),
    ("2001/13/1", "不是真实存在的日期"),
    ("2003-02-29", "不是真实存在的日期"),
    ("1921-06-30", "入党时间「1921-06-30」早于建党日期 1921年7月1日"),
    ("2001年7月", "入党时间「2001年7月」不完整：请写到日，如 2001-07-01"),
    ("2001.07", "不完整"),
    ("七月一日", "无法识别：请写成 2001-07-01、2001/7/1 或 2001年7月1日"),
    ("37073", "无法识别"),  # an Excel serial typed as a number: we do not guess
    ("2001-07-01 08:30:00", "无法识别"),
])
def test_bad_dates_are_named(cell, problem):
    with pytest.raises(PartyDateError, match=problem):
        read_date(cell, "入党时间", TODAY)


def test_csv_import_reads_both_columns_and_keeps_them_on_reimport(config_path, tmp_path):
    rows = [["张三", "第一党支部", "综合处党小组", "2001/7/1", "2002年7月1日"],
            ["李四", "第一党支部", "综合处党小组", "2004.02.29", ""],
            ["王五", "第二党支部", "财务处党小组", "", ""]]
    result = import_file(config_path, write_csv(tmp_path / "r.csv", rows, header=HEADER))
    assert result.exit_code == 0, result.output
    with Db(config_path) as db:
        assert dates(db, "张三") == party_dates.PartyDates(date(2001, 7, 1), date(2002, 7, 1))
        assert dates(db, "李四") == party_dates.PartyDates(date(2004, 2, 29), None)
        assert dates(db, "王五") == party_dates.PartyDates(None, None)
    # A later roster without the columns, or with the cells left blank, keeps the dates.
    plain = write_csv(tmp_path / "plain.csv", [["张三", "第一党支部", "综合处党小组"]],
                      header=["姓名", "支部", "党小组"])
    assert import_file(config_path, plain).exit_code == 0
    blank = write_csv(tmp_path / "blank.csv", [["张三", "第一党支部", "综合处党小组", "", ""],
                                               ["李四", "第一党支部", "综合处党小组", "", "2005-03-01"]],
                      header=["姓名", "支部", "党小组", "入党日期", "转正日期"])
    assert import_file(config_path, blank).exit_code == 0
    with Db(config_path) as db:
        assert dates(db, "张三") == party_dates.PartyDates(date(2001, 7, 1), date(2002, 7, 1))
        assert dates(db, "李四") == party_dates.PartyDates(date(2004, 2, 29), date(2005, 3, 1))


def test_xlsx_with_real_date_cells_and_text_cells(config_path, tmp_path):
    rows = [["张三", "第一党支部", "综合处党小组", datetime(2001, 7, 1), datetime(2002, 7, 1)],
            ["李四", "第一党支部", "综合处党小组", date(1998, 12, 26), None],
            ["王五", "第二党支部", "财务处党小组", "2010年6月30日", "2011/6/30"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, header=["姓名", "支部", "党小组", "入党日期", "转正日期"])
    result = import_file(config_path, path)
    assert result.exit_code == 0, result.output
    with Db(config_path) as db:
        assert dates(db, "张三") == party_dates.PartyDates(date(2001, 7, 1), date(2002, 7, 1))
        assert dates(db, "李四").joined == date(1998, 12, 26)
        assert dates(db, "王五") == party_dates.PartyDates(date(2010, 6, 30), date(2011, 6, 30))


def test_bad_dates_are_row_errors_and_nothing_is_written(config_path, tmp_path):
    good = [["张三", "第一党支部", "综合处党小组", "2001-07-01", "2002-07-01"]]
    assert import_file(config_path, write_csv(tmp_path / "g.csv", good, header=HEADER)).exit_code == 0
    before = snapshot(config_path)
    rows = [["张三", "第一党支部", "综合处党小组", "2001-07-02", ""],  # fine, but not written
            ["李四", "第一党支部", "综合处党小组", "2099-07-01", ""],
            [],
            ["王五", "第一党支部", "综合处党小组", "2001-02-29", ""],
            ["赵六", "第二党支部", "财务处党小组", "1900-01-01", ""],
            ["钱七", "第二党支部", "财务处党小组", "2005-07-01", "2004-07-01"],
            ["孙八", "第二党支部", "财务处党小组", "2001年7月", "明年"]]
    result = import_file(config_path, write_csv(tmp_path / "bad.csv", rows, header=HEADER))
    assert_clean_failure(result)
    assert result.stderr.splitlines()[:-1] == [
        "第 3 行：入党时间「2099-07-01」晚于今天",
        "第 5 行：入党时间「2001-02-29」不是真实存在的日期",
        "第 6 行：入党时间「1900-01-01」早于建党日期 1921年7月1日",
        "第 7 行：转正时间 2004-07-01 早于入党时间 2005-07-01",
        "第 8 行：入党时间「2001年7月」不完整：请写到日，如 2001-07-01",
        "第 8 行：转正时间「明年」无法识别：请写成 2001-07-01、2001/7/1 或 2001年7月1日",
    ]
    assert "名册有 6 处错误，未导入任何数据。" in result.stderr
    assert snapshot(config_path) == before


# --- the console ---------------------------------------------------------------------------

@pytest.fixture
def admin_client(services, client):
    make_account(services, "root")
    login(client, "root")
    return client


def upload(client, body: bytes, filename: str = "名册.csv"):
    return client.post("/admin/members/import",
                       data={"csrf_token": token(client), "file": (io.BytesIO(body), filename)},
                       content_type="multipart/form-data")


def confirm(client, html: str):
    marker = 'name="token" value="'
    start = html.index(marker) + len(marker)
    return client.post("/admin/members/import/confirm",
                       data={"csrf_token": token(client), "token": html[start:html.index('"', start)]})


def test_console_preview_shows_the_columns_and_the_members_page_the_dates(services, admin_client):
    body = ("姓名,支部,党小组,入党时间,转正时间\n周明,第三党支部,机关党小组,2001年7月1日,2002/7/1\n"
            "吴立,第三党支部,机关党小组,,\n").encode()
    preview = upload(admin_client, body).get_data(as_text=True)
    assert "已读取入党时间列：1 人填写了入党时间，1 人填写了转正时间" in preview
    assert "<th>入党时间</th><th>转正时间</th>" in preview
    assert "<td>2001-07-01</td><td>2002-07-01</td>" in preview
    assert confirm(admin_client, preview).status_code == 303
    page = admin_client.get("/admin/members?branch=第三党支部").get_data(as_text=True)
    assert "<th>入党时间</th>" in page
    assert '<td class="party-dates">2001-07-01<br><small>转正 2002-07-01</small></td>' in page
    assert '<td class="party-dates">—</td>' in page  # 吴立: not known
    # A roster without the column says so, and keeps the dates.
    plain = upload(admin_client, "姓名,支部,党小组\n周明,第三党支部,机关党小组\n".encode())
    html = plain.get_data(as_text=True)
    assert "文件中没有入党时间列：已有的入党时间不变" in html and "<th>入党时间</th>" not in html
    assert confirm(admin_client, html).status_code == 303
    member = [m for m in members.list_members(services.store.db) if m.name == "周明"][0]
    assert party_dates.dates_of(services.store.db, [member.id])[member.id].joined == date(2001, 7, 1)


def test_console_preview_names_a_bad_date_row_and_keeps_nothing(services, admin_client):
    before = services.store.db.execute("SELECT count(*) FROM members").fetchone()[0]
    body = ("姓名,支部,党小组,入党日期\n周明,第三党支部,机关党小组,2001-07-01\n"
            "吴立,第三党支部,机关党小组,2199-01-01\n").encode()
    html = upload(admin_client, body).get_data(as_text=True)
    assert "发现 1 处问题，未导入任何数据" in html
    assert "第 3 行：入党时间「2199-01-01」晚于今天" in html
    assert 'id="import-confirm"' not in html
    assert services.store.db.execute("SELECT count(*) FROM members").fetchone()[0] == before


def test_the_service_clock_bounds_the_future(services, client, clock):
    # "Today" is the service's (the test clock), not the machine's: 23:50, then 00:10.
    clock.set(datetime(2026, 11, 23, 23, 50, tzinfo=clock.tz))
    make_account(services, "root")
    login(client, "root")
    body = "姓名,支部,党小组,入党时间\n周明,第三党支部,机关党小组,2026-11-24\n".encode()
    assert "晚于今天" in upload(client, body).get_data(as_text=True)
    clock.advance(minutes=20)
    assert "检查通过" in upload(client, body).get_data(as_text=True)


def test_migration_adds_the_columns_to_an_existing_database(tmp_path: Path):
    from bot.store import Store

    store = Store(tmp_path / "q.db")
    try:
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(members)")}
        assert {"party_joined_on", "party_confirmed_on"} <= columns
    finally:
        store.close()


def test_would_change_says_whether_a_row_sets_new_dates(services):
    with services.store.transaction() as db:
        member_id = members.add_member(db, name="周明", branch="第三党支部", now=services.clock.now())
        party_dates.set_dates(db, member_id, joined=date(2001, 7, 1), confirmed=None)
    db = services.store.db
    assert not party_dates.would_change(db, member_id, joined=None, confirmed=None)
    assert not party_dates.would_change(db, member_id, joined=date(2001, 7, 1), confirmed=None)
    assert party_dates.would_change(db, member_id, joined=date(2001, 7, 2), confirmed=None)
    assert party_dates.would_change(db, member_id, joined=None, confirmed=date(2002, 7, 1))
