"""成员 page: search, filters, paging; roster import with preview then confirm; bind codes;
deactivate and reactivate. Flask test client, real SQLite, real files in tmp_path."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.store import members as store_members
from tests.console_helpers import login, make_account, token

HEADER = "姓名,支部,党小组,手机\n"
GOOD = HEADER + "周明,第三党支部,机关党小组,13800000001\n吴敏,第三党支部,机关党小组,\n"
ONE_BAD = HEADER + "周明,第三党支部,机关党小组,13800000001\n,第三党支部,机关党小组,\n"


@pytest.fixture
def admin_client(services, client):
    make_account(services, "root")
    login(client, "root")
    return client


def count(services) -> int:
    return services.store.db.execute("SELECT count(*) FROM members").fetchone()[0]


def upload(client, body: bytes, filename: str = "名册.csv"):
    return client.post("/admin/members/import",
                       data={"csrf_token": token(client), "file": (io.BytesIO(body), filename)},
                       content_type="multipart/form-data")


def uploads(services) -> list[Path]:
    folder = Path(services.store.path).parent / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def confirm_token(html: str) -> str:
    marker = 'name="token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def test_list_search_filter_and_page(services, admin_client):
    html = admin_client.get("/admin/members").get_data(as_text=True)
    assert html.count('data-member="') == 8
    found = admin_client.get("/admin/members?q=王").get_data(as_text=True)
    assert "王建国" in found and found.count('data-member="') == 1
    grouped = admin_client.get("/admin/members?group=财务处党小组").get_data(as_text=True)
    assert grouped.count('data-member="') == 2 and "张伟" in grouped
    branch = admin_client.get("/admin/members?branch=第二党支部").get_data(as_text=True)
    assert branch.count('data-member="') == 4 and "陈静" in branch and "王建国" not in branch
    # A LIKE wildcard in the search is a literal character, not "everything".
    assert admin_client.get("/admin/members?q=%25").get_data(as_text=True).count(
        'data-member="') == 0
    with services.store.transaction() as db:
        for i in range(60):
            store_members.add_member(db, name=f"成员{i:02d}", branch="第三党支部",
                                     now=services.clock.now())
    first = admin_client.get("/admin/members?branch=第三党支部").get_data(as_text=True)
    assert first.count('data-member="') == 50 and "第 1 / 2 页，共 60 条" in first
    second = admin_client.get("/admin/members?branch=第三党支部&page=2").get_data(as_text=True)
    assert second.count('data-member="') == 10
    for bad in ("0", "-3", "abc", "999"):
        page = admin_client.get(f"/admin/members?branch=第三党支部&page={bad}")
        assert page.status_code == 200 and 'data-member="' in page.get_data(as_text=True)


def test_import_with_a_bad_row_writes_nothing_then_a_good_file_after_confirm(services,
                                                                             admin_client):
    before = count(services)
    bad = upload(admin_client, ONE_BAD.encode())
    assert bad.status_code == 200
    html = bad.get_data(as_text=True)
    assert "发现 1 处问题，未导入任何数据" in html and "第 3 行：缺少姓名" in html
    assert "确认导入" not in html
    assert count(services) == before and uploads(services) == []

    preview = upload(admin_client, GOOD.encode())
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "共 2 行，检查通过" in html and "周明" in html and "确认导入 2 人" in html
    assert count(services) == before  # a preview writes nothing
    assert len(uploads(services)) == 1
    done = admin_client.post("/admin/members/import/confirm",
                             data={"csrf_token": token(admin_client),
                                   "token": confirm_token(html)})
    assert done.status_code == 303
    assert count(services) == before + 2
    assert uploads(services) == []
    flashed = admin_client.get("/admin/members").get_data(as_text=True)
    assert "导入完成：新增 2 人，更新 0 人" in flashed
    audit = services.store.db.execute(
        "SELECT actor, action FROM audit WHERE action = 'roster import'").fetchall()
    assert audit == [("console:root", "roster import")]
    # The same confirmation cannot be replayed.
    again = admin_client.post("/admin/members/import/confirm",
                              data={"csrf_token": token(admin_client),
                                    "token": confirm_token(html)})
    assert again.status_code == 200 and "这次导入已失效" in again.get_data(as_text=True)


def _import(client, body: bytes) -> tuple[str, str]:
    """(the preview page, the page after the confirm) of one roster upload."""
    preview = upload(client, body).get_data(as_text=True)
    client.post("/admin/members/import/confirm",
                data={"csrf_token": token(client), "token": confirm_token(preview)})
    return preview, client.get("/admin/members").get_data(as_text=True)


def test_an_unchanged_roster_says_no_change_in_the_preview_and_after(services, admin_client):
    """Issue 12: re-importing the same roster said 「更新 2 人」."""
    page = admin_client.get("/admin/members/import").get_data(as_text=True)
    assert "最多 5,000 行、30 列，文件不超过 10 MB" in page  # the limits, said before the upload
    preview, done = _import(admin_client, GOOD.encode())
    assert "导入将新增 2 人，更新 0 人，关联企业微信账号 0 个。" in preview
    assert "导入完成：新增 2 人，更新 0 人" in done
    preview, done = _import(admin_client, GOOD.encode())
    assert "与现有名册相同，没有变化。" in preview and "更新" not in preview
    assert "导入完成：没有变化" in done and "更新 2 人" not in done
    moved = GOOD.replace("吴敏,第三党支部,机关党小组,", "吴敏,第三党支部,后勤党小组,")
    preview, done = _import(admin_client, moved.encode())
    assert "导入将新增 0 人，更新 1 人，关联企业微信账号 0 个。" in preview
    assert "导入完成：新增 0 人，更新 1 人" in done


def test_import_xlsx(services, admin_client, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "支部", "党小组"])
    sheet.append(["郑强", "第三党支部", "机关党小组"])
    buffer = io.BytesIO()
    book.save(buffer)
    preview = upload(admin_client, buffer.getvalue(), "roster.xlsx")
    html = preview.get_data(as_text=True)
    assert "共 1 行，检查通过" in html
    admin_client.post("/admin/members/import/confirm",
                      data={"csrf_token": token(admin_client), "token": confirm_token(html)})
    assert any(m.name == "郑强" for m in store_members.list_members(services.store.db))


def test_the_confirm_writes_exactly_the_previewed_file(services, admin_client):
    html = upload(admin_client, GOOD.encode()).get_data(as_text=True)
    held = uploads(services)[0]
    held.write_text(HEADER + "冒名,第三党支部,,\n", encoding="utf-8")  # swapped behind our back
    response = admin_client.post("/admin/members/import/confirm",
                                 data={"csrf_token": token(admin_client),
                                       "token": confirm_token(html)})
    assert response.status_code == 200
    assert "被改动" in response.get_data(as_text=True)
    assert not any(m.name == "冒名" for m in store_members.list_members(services.store.db))


def test_a_second_upload_replaces_the_first(services, admin_client):
    first = upload(admin_client, GOOD.encode()).get_data(as_text=True)
    upload(admin_client, (HEADER + "钱进,第三党支部,,\n").encode())
    assert len(uploads(services)) == 1
    stale = admin_client.post("/admin/members/import/confirm",
                              data={"csrf_token": token(admin_client),
                                    "token": confirm_token(first)})
    assert stale.status_code == 200
    assert not any(m.name == "周明" for m in store_members.list_members(services.store.db))


@pytest.mark.parametrize("bad", [b"\x00\x01binary", ONE_BAD.encode(),
                                 ("姓名,支部" + ",x" * 40 + "\n").encode()],
                         ids=["binary", "a bad row", "41 columns"])
def test_a_bad_upload_changes_nothing_not_even_the_preview_held(services, admin_client, bad):
    """Issue 11 §3: every input checked before any effect. A refused second file used to
    throw away the first one's preview (its confirm then said 「这次导入已失效」)."""
    first = upload(admin_client, GOOD.encode()).get_data(as_text=True)
    held = uploads(services)
    refused = upload(admin_client, bad).get_data(as_text=True)
    assert "确认导入" not in refused
    assert uploads(services) == held  # the first file is still there, the bad one is not
    done = admin_client.post("/admin/members/import/confirm",
                             data={"csrf_token": token(admin_client),
                                   "token": confirm_token(first)})
    assert done.status_code == 303
    assert {"周明", "吴敏"} <= {m.name for m in store_members.list_members(services.store.db)}


@pytest.mark.parametrize(("body", "filename", "message"), [
    (b"", "", "请选择一个 CSV 或 XLSX 文件"),
    (b"MZ\x90\x00", "virus.exe", "不支持的文件类型 .exe"),
    (b"\x00\x01binary", "名册.csv", "这不是文本格式的 CSV 文件"),
    (b"PK\x03\x04broken", "名册.xlsx", ""),
    ("姓名,手机\n张三,13800000000\n".encode(), "名册.csv", "支部"),
])
def test_bad_files_get_a_clear_answer_and_write_nothing(services, admin_client, body, filename,
                                                        message):
    before = count(services)
    if filename:
        response = upload(admin_client, body, filename)
    else:
        response = admin_client.post("/admin/members/import",
                                     data={"csrf_token": token(admin_client)},
                                     content_type="multipart/form-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="import-error"' in html and message in html
    assert count(services) == before and uploads(services) == []


def test_a_file_over_the_limit_is_413_with_a_chinese_page(services, admin_client):
    big = HEADER.encode() + b"x" * (10 * 1024 * 1024 + 100 * 1024)
    response = upload(admin_client, big)
    assert response.status_code == 413
    assert "文件太大" in response.get_data(as_text=True)


def test_a_secretary_imports_only_their_own_branch(services, client):
    make_account(services, "sec1", role="secretary", branch="第一党支部")
    login(client, "sec1")
    before = count(services)
    body = HEADER + "新人,第一党支部,,\n外人,第二党支部,,\n"
    response = upload(client, body.encode())
    assert response.status_code == 200
    assert "第 3 行：支部「第二党支部」不是您管理的支部（第一党支部）" in response.get_data(as_text=True)
    assert count(services) == before


def test_bind_code_regenerate_and_deactivate_reactivate(services, admin_client):
    member = store_members.list_members(services.store.db)[0]
    csrf = token(admin_client)
    codes = []
    for _ in range(2):
        response = admin_client.post(f"/admin/members/{member.id}/bind-code",
                                     data={"csrf_token": csrf, "back": "/admin/members?q=x"})
        assert response.status_code == 303 and response.headers["Location"] == "/admin/members?q=x"
        codes.append(services.store.db.execute("SELECT bind_code FROM members WHERE id = ?",
                                               [member.id]).fetchone()[0])
    assert codes[0] != codes[1] and len(codes[1]) == 8
    assert codes[1] in admin_client.get("/admin/members").get_data(as_text=True)
    admin_client.post(f"/admin/members/{member.id}/active",
                      data={"csrf_token": csrf, "active": "0", "back": "https://evil.example/"})
    assert not store_members.get_member(services.store.db, member.id).active
    row = f'data-member="{member.id}"'
    assert row not in admin_client.get("/admin/members").get_data(as_text=True)
    assert row in admin_client.get("/admin/members?status=inactive").get_data(as_text=True)
    admin_client.post(f"/admin/members/{member.id}/active", data={"csrf_token": csrf, "active": "1"})
    assert store_members.get_member(services.store.db, member.id).active
    actions = [r[0] for r in services.store.db.execute(
        "SELECT action FROM audit WHERE actor = 'console:root' AND action LIKE 'member.%'")]
    assert actions == ["member.bind-code", "member.bind-code", "member.deactivate",
                       "member.reactivate"]


def test_abandoned_uploads_are_swept_after_a_day(services, admin_client):
    import os
    import time

    folder = Path(services.store.path).parent / "uploads"
    folder.mkdir()
    old, recent = folder / "roster-old.csv", folder / "roster-recent.csv"
    for path in (old, recent):
        path.write_text(GOOD, encoding="utf-8")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    upload(admin_client, GOOD.encode())
    left = {p.name for p in uploads(services)}
    assert "roster-old.csv" not in left and "roster-recent.csv" in left and len(left) == 2


@pytest.mark.parametrize("back", ["/admin/\r\nX: y", "/admin/\x00", "/admin/\\\\evil.example",
                                  "//evil.example/", "/admin/\u2028x"])
def test_a_bad_back_target_is_refused_before_the_write(services, admin_client, back):
    """A control character in back= made werkzeug raise after the member was deactivated (a
    500) and after the new bind code was saved but never shown: the target is checked first."""
    member = store_members.list_members(services.store.db)[0]
    csrf = token(admin_client)
    response = admin_client.post(f"/admin/members/{member.id}/active",
                                 data={"csrf_token": csrf, "active": "0", "back": back})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/members"
    assert not store_members.get_member(services.store.db, member.id).active
    assert f"已停用 {member.name}" in admin_client.get("/admin/members").get_data(as_text=True)
    response = admin_client.post(f"/admin/members/{member.id}/bind-code",
                                 data={"csrf_token": csrf, "back": back})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/members"
    code = services.store.db.execute("SELECT bind_code FROM members WHERE id = ?",
                                     [member.id]).fetchone()[0]
    assert f"新绑定码：{code}" in admin_client.get("/admin/members").get_data(as_text=True)


def test_a_member_bound_twice_through_the_sandbox_shows_the_channel_once(services,
                                                                         admin_client):
    """Issue 12: 「沙箱 沙箱」. Acting as the member in /sim binds one sandbox id; a visitor who
    sends 「绑定 <码>」 binds a second one to the same member."""
    wang = next(m for m in store_members.list_members(services.store.db) if m.name == "王建国")
    sim = admin_client  # /sim needs no login; the same app
    assert sim.post("/sim/api/send", json={"user": f"m{wang.id}", "text": "打卡"}).status_code == 200
    with services.store.transaction() as tx:
        code = store_members.new_bind_code(tx, wang.id)
    bound = sim.post("/sim/api/send", json={"user": "vphone2", "text": f"绑定 {code}"})
    assert "绑定成功" in bound.get_json()["reply"]
    assert [c for c, _id, _a in store_members.identities_of(services.store.db, wang.id)] == [
        "sandbox", "sandbox"]
    html = admin_client.get("/admin/members?q=王建国").get_data(as_text=True)
    row = html[html.index(f'data-member="{wang.id}"'):]
    row = row[:row.index("</tr>")]
    assert "<td>模拟器</td>" in row and row.count("模拟器") == 1
    others = admin_client.get("/admin/members?q=李红梅").get_data(as_text=True)
    assert "<td>未绑定</td>" in others


def test_the_group_filter_names_each_group_with_its_branch(services, admin_client):
    """Issue 11 §2 / 12: two branches' 「第一党小组」 were one option, and filtering by it
    listed both branches' members."""
    with services.store.transaction() as db:
        for name, branch in (("甲", "第一党支部"), ("乙", "第一党支部"), ("丙", "第二党支部")):
            store_members.add_member(db, name=name, branch=branch, grp="第一党小组",
                                     now=services.clock.now())
    html = admin_client.get("/admin/members").get_data(as_text=True)
    assert '<option value="第一党支部/第一党小组">第一党支部 · 第一党小组</option>' in html
    assert '<option value="第二党支部/第一党小组">第二党支部 · 第一党小组</option>' in html
    assert ">第一党小组</option>" not in html  # no option without its branch
    second = admin_client.get("/admin/members?group=第二党支部/第一党小组").get_data(as_text=True)
    assert second.count('data-member="') == 1 and "丙" in second
    assert '<option value="第二党支部/第一党小组" selected>' in second
    first = admin_client.get("/admin/members?group=第一党支部/第一党小组").get_data(as_text=True)
    assert first.count('data-member="') == 2 and "丙" not in first
    # An old link with the bare name still answers: every group of that name.
    bare = admin_client.get("/admin/members?group=第一党小组").get_data(as_text=True)
    assert bare.count('data-member="') == 3


def test_a_secretary_filters_only_within_their_branch(services, client):
    with services.store.transaction() as db:
        for name, branch in (("甲", "第一党支部"), ("丙", "第二党支部")):
            store_members.add_member(db, name=name, branch=branch, grp="第一党小组",
                                     now=services.clock.now())
    make_account(services, "sec", role="secretary", branch="第一党支部")
    login(client, "sec")
    html = client.get("/admin/members").get_data(as_text=True)
    assert "第一党支部 · 第一党小组" in html and "第二党支部 · 第一党小组" not in html
    other = client.get("/admin/members?group=第二党支部/第一党小组").get_data(as_text=True)
    assert 'data-member="' not in other and "丙" not in other
