"""Console content pages over the Flask test client: library, reading, import, reminders, quiz."""

from __future__ import annotations

import io
import re
import time

import pytest

from bot.console.content import UPLOAD_LIMIT
from bot.regulations import MAX_FILE_BYTES
from tests.console_helpers import logged_in, login, make_account, text, token
from tests.paths import REGULATIONS

LJZL = REGULATIONS / "中国共产党廉洁自律准则.md"
JLCF = REGULATIONS / "中国共产党纪律处分条例_2023.md"
WENZE = REGULATIONS / "中国共产党问责条例.md"


@pytest.fixture
def admin(services, client):
    return logged_in(services, client, "admin1")


@pytest.fixture
def secretary(services, client):
    return logged_in(services, client, "shuji1", role="secretary", branch="第一党支部")


def imported(services, source: str) -> int:
    return services.store.db.execute(
        "SELECT count(*) FROM readings WHERE origin = 'import' AND source = ?",
        [source]).fetchone()[0]


def audit_actions(services) -> list[str]:
    return [r[0] for r in services.store.db.execute("SELECT action FROM audit ORDER BY id")]


def upload(client, data: bytes, name: str = "x.md", **fields: str):
    return client.post("/admin/content/import", content_type="multipart/form-data",
                       data={"csrf_token": token(client, "/admin/content/import"),
                             "file": (io.BytesIO(data), name), **fields})


# -- login and roles ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/content", "/admin/content/readings/1",
                                  "/admin/content/import", "/admin/content/reminders",
                                  "/admin/content/quiz"])
def test_every_page_needs_a_login(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_posts_need_a_login_and_csrf(services, client) -> None:
    assert client.post("/admin/content/import").status_code in (302, 401)
    make_account(services, "admin1")
    login(client, "admin1")
    no_token = client.post("/admin/content/import", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(LJZL.read_bytes()), LJZL.name)})
    assert no_token.status_code == 400 and "页面已过期" in text(no_token)
    bad = client.post("/admin/content/import/confirm", data={"csrf_token": "forged",
                                                             "token": "x"})
    assert bad.status_code == 400
    assert imported(services, "中国共产党廉洁自律准则") == 0
    assert "content.import.preview" not in audit_actions(services)


def test_secretary_reads_the_library_but_cannot_import(services, secretary) -> None:
    page = secretary.get("/admin/content")
    assert page.status_code == 200 and "纪法条文库" in text(page)
    assert "导入法规" not in text(page)  # no tab to a page they cannot use
    assert secretary.get("/admin/content/import").status_code == 403
    refused = secretary.post("/admin/content/import", content_type="multipart/form-data",
                             data={"csrf_token": token(secretary, "/admin/content"),
                                   "file": (io.BytesIO(LJZL.read_bytes()), LJZL.name)})
    assert refused.status_code == 403
    refused = secretary.post("/admin/content/import/confirm",
                             data={"csrf_token": token(secretary, "/admin/content"),
                                   "token": "whatever", "action": "confirm"})
    assert refused.status_code == 403
    assert imported(services, "中国共产党廉洁自律准则") == 0
    assert audit_actions(services).count("denied") == 3
    for path in ("/admin/content/reminders", "/admin/content/quiz"):
        assert secretary.get(path).status_code == 200


# -- the library -------------------------------------------------------------------------------

def test_library_lists_searches_and_filters(services, admin) -> None:
    page = text(admin.get("/admin/content"))
    total = int(re.search(r"共 (\d+) 条现行条文", page).group(1))
    assert total > 0
    sources = re.findall(r'<option value="([^"]+)"', page)
    assert "中国共产党纪律处分条例" in sources

    found = text(admin.get("/admin/content", query_string={"q": "四风"}))
    assert "“四风”的搜索结果" in found
    hits = int(re.search(r"搜索结果：(\d+) 条", found).group(1))
    assert hits > 0 and found.count("/admin/content/readings/") >= hits

    one_source = text(admin.get("/admin/content",
                                query_string={"source": "中国共产党纪律处分条例"}))
    n = int(re.search(r"共 (\d+) 条现行条文", one_source).group(1))
    assert 0 < n < total
    shorts = re.findall(r"<tr>\s*<td>([^<]+)</td>", one_source)
    assert shorts and set(shorts) == {"纪律处分条例"}


def test_library_bad_input_gives_a_clear_page(admin) -> None:
    nothing = admin.get("/admin/content", query_string={"q": "量子纠缠"})
    assert nothing.status_code == 200 and "没有找到与“量子纠缠”相关的条文" in text(nothing)
    for args in ({"page": "-3"}, {"page": "abc"}, {"page": "99999999999"},
                 {"source": "不存在的法规"}, {"q": "<script>alert(1)</script>"},
                 {"q": "\"*OR NEAR("}, {"q": "四" * 500}):
        response = admin.get("/admin/content", query_string=args)
        assert response.status_code == 200, args
        assert "<script>alert" not in text(response)


def test_pages_of_the_library(services, admin) -> None:
    total = int(re.search(r"共 (\d+) 条现行条文", text(admin.get("/admin/content"))).group(1))
    assert total > 50  # more than one page
    last = -(-total // 50)
    ids = lambda page: re.findall(r"/admin/content/readings/(\d+)", page)  # noqa: E731
    first = ids(text(admin.get("/admin/content")))
    second = ids(text(admin.get("/admin/content", query_string={"page": "2"})))
    assert first and second and not set(first) & set(second)
    beyond = text(admin.get("/admin/content", query_string={"page": "999"}))
    assert f"第 {last} / {last} 页" in beyond and ids(beyond)


def test_reading_page_and_unknown_reading(services, admin) -> None:
    reading_id, article_no, body = services.store.db.execute(
        "SELECT id, article_no, body FROM readings WHERE article_no != '' ORDER BY id"
    ).fetchone()
    page = admin.get(f"/admin/content/readings/{reading_id}")
    assert page.status_code == 200 and article_no in text(page)
    assert body.split("\n")[0] in text(page)
    assert admin.get("/admin/content/readings/999999").status_code == 404
    assert admin.get("/admin/content/readings/abc").status_code == 404


# -- importing a regulation ---------------------------------------------------------------------

def test_import_preview_then_confirm_writes_what_was_previewed(services, admin) -> None:
    no_year = upload(admin, LJZL.read_bytes(), LJZL.name)  # the text names no year
    assert no_year.status_code == 400 and "没有识别出版本年份" in text(no_year)
    preview = upload(admin, LJZL.read_bytes(), LJZL.name, version="2015")
    page = text(preview)
    assert preview.status_code == 200
    assert "导入预览：《中国共产党廉洁自律准则》2015 年版" in page
    assert re.search(r"8 条（第一条至第八条）", page)
    assert imported(services, "中国共产党廉洁自律准则") == 0  # a preview writes nothing
    pending = re.search(r'name="token" value="([^"]+)"', page).group(1)

    done = admin.post("/admin/content/import/confirm",
                      data={"csrf_token": token(admin, "/admin/content"), "token": pending,
                            "action": "confirm"})
    assert done.status_code == 200 and "已导入《中国共产党廉洁自律准则》" in text(done)
    assert imported(services, "中国共产党廉洁自律准则") == 8
    actions = audit_actions(services)
    assert "content.import.preview" in actions and "content.import" in actions
    actor = services.store.db.execute(
        "SELECT actor FROM audit WHERE action = 'content.import'").fetchone()[0]
    assert actor == "console:admin1"

    again = admin.post("/admin/content/import/confirm",
                       data={"csrf_token": token(admin, "/admin/content"), "token": pending,
                             "action": "confirm"})
    assert again.status_code == 400 and "已过期或已导入" in text(again)
    assert imported(services, "中国共产党廉洁自律准则") == 8


def test_import_preview_shows_chapters_and_warnings(services, admin) -> None:
    page = text(upload(admin, WENZE.read_bytes(), WENZE.name))
    assert "13 条" in page
    gap = "第一条 甲。\n第二条 乙。\n第四条 丁。\n".encode()
    page = text(upload(admin, gap, "某规定_2020.txt", source="某某规定"))
    assert "请核对以下问题" in page and "缺少第三条" in page


def test_discard_forgets_the_upload(services, admin) -> None:
    page = text(upload(admin, LJZL.read_bytes(), LJZL.name, version="2015"))
    pending = re.search(r'name="token" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/content/import/confirm",
                          data={"csrf_token": token(admin, "/admin/content"),
                                "token": pending, "action": "discard"})
    assert response.status_code == 302
    assert imported(services, "中国共产党廉洁自律准则") == 0
    assert "content.import.discard" in audit_actions(services)
    late = admin.post("/admin/content/import/confirm",
                      data={"csrf_token": token(admin, "/admin/content"), "token": pending,
                            "action": "confirm"})
    assert late.status_code == 400 and imported(services, "中国共产党廉洁自律准则") == 0


@pytest.mark.parametrize(("data", "name", "reason"), [
    (b"", "empty.txt", "上传的文件是空的"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "photo.png", "二进制文件"),
    ("亲爱的同志们：\n今天开会。\n".encode(), "letter.txt", "没有找到任何条文"),
    ("第一条 甲。\n第二条 乙。\n".encode(), "无题.txt", "没有识别出法规名称"),
])
def test_bad_uploads_are_refused_and_nothing_is_written(services, admin, data, name,
                                                        reason) -> None:
    before = services.store.db.execute("SELECT count(*) FROM readings").fetchone()[0]
    response = upload(admin, data, name)
    assert response.status_code == 400
    assert reason in text(response)
    assert services.store.db.execute("SELECT count(*) FROM readings").fetchone()[0] == before
    assert services.store.db.execute("SELECT count(*) FROM kv WHERE key LIKE"
                                     " 'console:regulation-import:%'").fetchone()[0] == 0


def test_no_file_and_bad_year(services, admin) -> None:
    response = admin.post("/admin/content/import", content_type="multipart/form-data",
                          data={"csrf_token": token(admin, "/admin/content")})
    assert response.status_code == 400 and "请选择要上传的" in text(response)
    response = upload(admin, LJZL.read_bytes(), LJZL.name, version="20x5")
    assert response.status_code == 400 and "四位年份" in text(response)


def test_huge_uploads_are_refused(services, admin) -> None:
    line = ("第一条 " + "甲" * 100 + "\n").encode()
    just_over = line * (MAX_FILE_BYTES // len(line) + 1)
    assert MAX_FILE_BYTES < len(just_over) < UPLOAD_LIMIT - 4096
    response = upload(admin, just_over, "big.txt", source="大文件", version="2020")
    assert response.status_code == 400 and "超过 5 MB 上限" in text(response)
    # a body beyond what the route accepts is cut off before it is read
    response = upload(admin, line * (UPLOAD_LIMIT // len(line) + 1), "bigger.txt")
    assert response.status_code == 413 and "文件太大" in text(response)
    assert imported(services, "大文件") == 0


@pytest.mark.parametrize("filler", ["\n", " \n", "第一章 总则\n"])
def test_millions_of_lines_under_the_size_limit_are_refused_quickly(services, admin,
                                                                    filler) -> None:
    """5 MB of blank lines took 7 s of a worker to split; a line limit refuses it unread."""
    data = (filler * (MAX_FILE_BYTES // len(filler.encode()) - 20) + "第一条 正文\n").encode()
    assert len(data) <= MAX_FILE_BYTES
    started = time.monotonic()
    response = upload(admin, data, "lines.txt", source="行数", version="2020")
    assert time.monotonic() - started < 3
    assert response.status_code == 400 and "行上限" in text(response)
    assert imported(services, "行数") == 0


def test_a_full_regulation_over_64_kib_imports(services, admin) -> None:
    assert JLCF.stat().st_size > 64 * 1024  # larger than the app's default body limit
    page = text(upload(admin, JLCF.read_bytes(), JLCF.name))
    assert "导入预览：《中国共产党纪律处分条例》2023 年版" in page
    assert "158 条（第一条至第一百五十八条）" in page
    assert "3 编 · 11 章" in page


# -- reminders and quiz -------------------------------------------------------------------------

def test_reminder_plan_for_the_year(services, admin) -> None:
    page = text(admin.get("/admin/content/reminders"))
    assert "2026 年廉洁提醒发送计划" in page
    days = re.findall(r"<td>(2026-\d\d-\d\d) 周", page)
    assert len(days) >= 4 and days == sorted(days)
    assert "中秋" in page or "国庆" in page
    next_year = text(admin.get("/admin/content/reminders", query_string={"year": "2027"}))
    assert re.findall(r"<td>(2027-\d\d-\d\d) 周", next_year)
    assert "估算" in next_year  # chinesecalendar has no 2027 data: the page says so


@pytest.mark.parametrize("year", ["abc", "1999", "3000", "-1", ""])
def test_reminder_plan_bad_year(admin, year) -> None:
    response = admin.get("/admin/content/reminders", query_string={"year": year})
    assert response.status_code == 400 and "年份应在" in text(response)


def test_quiz_bank_lists_every_question(services, admin) -> None:
    page = text(admin.get("/admin/content/quiz"))
    count = services.store.db.execute("SELECT count(*) FROM quiz_questions").fetchone()[0]
    assert count > 0
    assert f"每日一题题库（{count} 题）" in page
    stem = services.store.db.execute("SELECT stem FROM quiz_questions LIMIT 1").fetchone()[0]
    assert stem.replace("（ ）", "") in page.replace("（ ）", "")


def test_the_import_page_says_the_limits(services, client) -> None:
    make_account(services, "admin1")
    login(client, "admin1")
    assert "不超过 5 MB、50,000 行" in text(client.get("/admin/content/import"))
