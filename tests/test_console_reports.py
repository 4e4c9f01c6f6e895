"""Console report page and downloads over the Flask test client."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

import openpyxl
import pytest

from bot.store import tasks as store_tasks
from tests.console_helpers import logged_in, login, make_account, text

MONTH = "2026-11"


@pytest.fixture
def admin(services, client):
    return logged_in(services, client, "admin1")


@pytest.fixture
def secretary(services, client):
    return logged_in(services, client, "shuji2", role="secretary", branch="第二党支部")


def finish_everything(services, branch: str) -> None:
    """Every member of `branch` marks every required task of the month done."""
    db = services.store.db
    members = [r[0] for r in db.execute("SELECT id FROM members WHERE branch = ?", [branch])]
    with services.store.transaction() as tx:
        for task in store_tasks.month_tasks(tx, MONTH):
            for member_id in members:
                store_tasks.mark_done(tx, task, member_id, at=services.clock.now(),
                                      day=services.clock.today(), via="test")


def audit_rows(services) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in services.store.db.execute(
        "SELECT actor, action, detail FROM audit ORDER BY id")]


@pytest.mark.parametrize("path", ["/admin/reports", f"/admin/reports/{MONTH}.xlsx",
                                  f"/admin/reports/{MONTH}.csv"])
def test_reports_need_a_login(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_report_page_ranks_branches_and_lists_members(services, admin) -> None:
    finish_everything(services, "第二党支部")
    page = text(admin.get("/admin/reports", query_string={"month": MONTH}))
    assert f"{MONTH} 学习情况月报" in page
    overview = re.search(r'<table id="overview">(.*?)</table>', page, re.S).group(1)
    ranked = re.findall(r"<tr><td>(\d+|—)</td><td>([^<]+)</td>", overview)
    assert ranked[0] == ("1", "第二党支部")
    assert "100.0%" in overview and ">0.0%<" in overview
    detail = re.search(r'<table id="report-rows">(.*?)</table>', page, re.S).group(1)
    assert detail.count("<tr") == 1 + 8  # header + the demo roster
    # On 11-23 nothing the first branch still owes is past its due date and no ended month
    # was missed: nobody needs attention yet, so no row is highlighted.
    assert detail.count('class="bad"') == 0
    assert 'id="report-chart"' in page and page.count('class="bar"') == 2


def test_only_members_needing_attention_are_highlighted(services, client) -> None:
    finish_everything(services, "第二党支部")
    services.clock.advance(days=3)  # 11-26: the task due 11-25 is overdue for the first branch
    admin = logged_in(services, client, "admin1")
    page = text(admin.get("/admin/reports", query_string={"month": MONTH}))
    detail = re.search(r'<table id="report-rows">(.*?)</table>', page, re.S).group(1)
    flagged = re.findall(r'<tr class="bad" data-attention="1"><td>([^<]+)</td>', detail)
    assert flagged == ["第一党支部"] * 4
    assert "需关注 4 人" in page and 'id="legend"' in page


def test_xlsx_download_reads_back(services, admin) -> None:
    finish_everything(services, "第二党支部")
    response = admin.get(f"/admin/reports/{MONTH}.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    disposition = unquote(response.headers["Content-Disposition"])
    assert "attachment" in disposition and f"学习情况月报-{MONTH}.xlsx" in disposition
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:2] == ["总览", "明细"]
    detail = list(book["明细"].iter_rows(values_only=True))
    assert detail[0][:6] == ("支部", "党小组", "姓名", "应学", "已学", "缺项")
    assert len(detail) == 1 + 8
    done = {row[2]: (row[3], row[4]) for row in detail[1:]}
    assert done["杨帆"][0] == done["杨帆"][1] > 0
    assert done["李红梅"][1] == 0
    overview = list(book["总览"].iter_rows(values_only=True))
    assert overview[1][1] == "第二党支部" and overview[1][5] == 1
    assert ("console:admin1", "report.download") in [(a, b) for a, b, _ in audit_rows(services)]


def test_csv_download(services, admin) -> None:
    response = admin.get(f"/admin/reports/{MONTH}.csv")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["支部", "党小组", "姓名"] and len(rows) == 9


def test_admin_can_pick_one_branch(services, admin) -> None:
    page = text(admin.get("/admin/reports", query_string={"month": MONTH,
                                                           "branch": "第一党支部"}))
    assert "学习情况月报 · 第一党支部" in page and "第二党支部</td>" not in page
    book = openpyxl.load_workbook(io.BytesIO(admin.get(
        f"/admin/reports/{MONTH}.xlsx", query_string={"branch": "第一党支部"}).data))
    names = {row[0] for row in list(book["明细"].iter_rows(values_only=True))[1:]}
    assert names == {"第一党支部"}


@pytest.mark.parametrize(("args", "reason"), [
    ({"month": "2026-13"}, "月份格式不对"),
    ({"month": "next"}, "月份格式不对"),
    ({"month": MONTH, "branch": "不存在的支部"}, "没有名为「不存在的支部」的支部"),
])
def test_bad_report_input_is_a_clear_400(admin, args, reason) -> None:
    response = admin.get("/admin/reports", query_string=args)
    assert response.status_code == 400 and reason in text(response)


def test_bad_month_download_is_a_clear_400(services, admin) -> None:
    response = admin.get("/admin/reports/2026-99.xlsx")
    assert response.status_code == 400 and "月份格式不对" in text(response)
    assert "report.download" not in [a for _, a, _ in audit_rows(services)]


def test_secretary_gets_only_their_branch(services, secretary) -> None:
    page = text(secretary.get("/admin/reports", query_string={"month": MONTH}))
    assert "学习情况月报 · 第二党支部" in page
    assert "李红梅" not in page and "杨帆" in page
    book = openpyxl.load_workbook(io.BytesIO(secretary.get(f"/admin/reports/{MONTH}.xlsx").data))
    names = {row[0] for row in list(book["明细"].iter_rows(values_only=True))[1:]}
    assert names == {"第二党支部"}
    csv_text = secretary.get(f"/admin/reports/{MONTH}.csv").data.decode("utf-8-sig")
    assert "第一党支部" not in csv_text
    # asking for another branch on the raw routes is refused and audited
    for path in ("/admin/reports", f"/admin/reports/{MONTH}.xlsx", f"/admin/reports/{MONTH}.csv"):
        refused = secretary.get(path, query_string={"month": MONTH, "branch": "第一党支部"})
        assert refused.status_code == 403, path
    assert [a for _, a, _ in audit_rows(services)].count("denied") == 3


def test_secretary_of_an_empty_branch_sees_an_empty_report(services, client) -> None:
    make_account(services, "shuji9", role="secretary", branch="第九党支部")
    login(client, "shuji9")
    page = client.get("/admin/reports", query_string={"month": MONTH})
    assert page.status_code == 200 and "名册中还没有成员" in text(page)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/admin/reports/{MONTH}.xlsx").data))
    assert len(list(book["明细"].iter_rows(values_only=True))) == 1  # the header only
