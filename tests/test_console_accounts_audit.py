"""账号 and 操作日志 pages: create, reset, disable, role changes by an admin (with the same rules
as the CLI), and the audit log's filters and pages."""

from __future__ import annotations

import pytest

from bot.console import passwords
from bot.store import admins, audit
from tests.console_helpers import PASSWORD, login, make_account, token


@pytest.fixture
def admin_client(services, client):
    make_account(services, "root")
    login(client, "root")
    return client


def post(client, path: str, data: dict):
    response = client.post(path, data={**data, "csrf_token": token(client)})
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_create_reset_disable_enable_and_role(services, admin_client):
    page = post(admin_client, "/admin/accounts", {"name": "李书记", "password": PASSWORD,
                                                  "role": "secretary", "branch": "第二党支部"})
    assert "已创建账号 李书记" in page and 'data-account="李书记"' in page
    account = admins.by_name(services.store.db, "李书记")
    assert (account.role, account.branch) == ("secretary", "第二党支部")
    page = post(admin_client, "/admin/accounts/李书记/password", {"password": "brand-new-pass"})
    assert "已为 李书记 设置新密码" in page
    assert passwords.verify(admins.by_name(services.store.db, "李书记").password_hash,
                            "brand-new-pass")
    assert "已停用账号 李书记" in post(admin_client, "/admin/accounts/李书记/active", {"active": "0"})
    assert not admins.by_name(services.store.db, "李书记").active
    assert "已启用账号 李书记" in post(admin_client, "/admin/accounts/李书记/active", {"active": "1"})
    post(admin_client, "/admin/accounts/李书记/role", {"role": "admin", "branch": "第二党支部"})
    account = admins.by_name(services.store.db, "李书记")
    assert (account.role, account.branch) == ("admin", None)  # an admin has no branch
    actions = [r["action"] for r in audit.recent(services.store.db)
               if r["actor"] == "console:root" and r["action"].startswith("account.")]
    assert actions[::-1] == ["account.create", "account.password", "account.disable",
                             "account.enable", "account.role"]


@pytest.mark.parametrize(("path", "data", "message"), [
    ("/admin/accounts", {"name": "x", "password": PASSWORD, "role": "admin"}, "账号名须为"),
    ("/admin/accounts", {"name": "root", "password": PASSWORD, "role": "admin"}, "账号 root 已存在"),
    ("/admin/accounts", {"name": "short", "password": "123", "role": "admin"}, "密码至少 10 个字符"),
    ("/admin/accounts", {"name": "sec", "password": PASSWORD, "role": "secretary"},
     "支部书记账号必须指定所属支部"),
    ("/admin/accounts", {"name": "god", "password": PASSWORD, "role": "superuser"}, "角色只能是"),
    ("/admin/accounts/nobody/password", {"password": PASSWORD}, "没有名为 nobody 的账号"),
    ("/admin/accounts/root/active", {"active": "0"}, "不能停用最后一个管理员账号"),
    ("/admin/accounts/root/role", {"role": "secretary", "branch": "第一党支部"},
     "不能把最后一个管理员改成支部书记"),
])
def test_bad_account_changes_are_explained_and_change_nothing(services, admin_client, path, data,
                                                              message):
    before = admins.all_admins(services.store.db)
    page = post(admin_client, path, data)
    assert message in page and 'class="flash error"' in page
    assert admins.all_admins(services.store.db) == before


def test_audit_page_filters_and_pages(services, admin_client):
    # A CLI "task add" and a console "task.add" are one name: the filter finds both.
    actions = ["roster import", "task add", "task.add"]
    with services.store.transaction() as db:
        for i in range(120):
            audit.record(db, actor="cli" if i % 2 else "console:root", action=actions[i % 3],
                         detail={"created": i, "updated": 0, "wecom": 0, "month": "2026-12",
                                 "position": i, "title": f"第 {i} 课"},
                         at=services.clock.now())
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert page.count('<tr><td class="wrap">') == 50 and "第 1 / 3 页" in page
    assert "<strong>命令行</strong> 于 11-23 09:00 添加学习任务：2026-12 第 119 项「第 119 课」" in page
    assert '<option value="task add">添加学习任务</option>' in page
    assert "task.add" not in page.replace('value="task add"', "")  # one option per name
    only_cli = admin_client.get("/admin/audit?actor=命令行&action=task+add").get_data(as_text=True)
    rows = [i for i in range(120) if i % 2 and i % 3 in (1, 2)]
    assert only_cli.count('<tr><td class="wrap">') == len(rows)
    assert f"第 {rows[-1]} 课" in only_cli and "第 3 课" not in only_cli
    by_name = admin_client.get("/admin/audit?actor=root&action=roster+import").get_data(as_text=True)
    assert by_name.count('<tr><td class="wrap">') == len([i for i in range(120)
                                                        if not i % 2 and i % 3 == 0])
    assert "<strong>root</strong> 于 11-23 09:00 导入名册：新增 114 人，更新 0 人" in by_name
    last = admin_client.get("/admin/audit?page=3").get_data(as_text=True)
    assert "导入名册：没有变化" in last  # created 0, updated 0: as the import said it
    assert "没有符合条件的记录" in admin_client.get("/admin/audit?actor=%25nobody").get_data(
        as_text=True)
    # The login itself is in the log, and a code typed into the address still filters.
    assert "root</strong> 于 11-23 09:00 登录后台" in admin_client.get(
        "/admin/audit?action=login").get_data(as_text=True)
