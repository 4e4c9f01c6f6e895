"""`python -m bot admin ...`: accounts from the command line (CliRunner, a real config file)."""

from __future__ import annotations

from click.testing import CliRunner

from bot.cli import cli
from bot.console import passwords
from bot.store import admins
from tests.test_schedule_cli import write_config

GOOD = "a-long-enough-password"


def invoke(config, *args: str, stdin: str | None = None, env: dict | None = None):
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin, env=env)


def test_create_from_stdin_then_list_passwd_disable(tmp_path, built):
    config = write_config(tmp_path / "config.toml")
    result = invoke(config, "admin", "create", "王书记", "--role", "secretary", "--branch",
                    "第一党支部", "--password-stdin", stdin=GOOD + "\n")
    assert result.exit_code == 0, result.output
    assert "已创建账号 王书记（支部书记，管理 第一党支部）" in result.output
    db = built[-1].store.db
    account = admins.by_name(db, "王书记")
    assert account.role == "secretary" and account.branch == "第一党支部"
    assert account.password_hash.startswith("$argon2id$")
    assert passwords.verify(account.password_hash, GOOD)
    assert GOOD not in account.password_hash

    listed = invoke(config, "admin", "list")
    assert "王书记  支部书记  第一党支部  正常  最近登录：从未登录" in listed.output

    changed = invoke(config, "admin", "passwd", "王书记", env={"QINGFENG_ADMIN_PASSWORD": "another-password-1"})
    assert changed.exit_code == 0, changed.output
    after = admins.by_name(built[-1].store.db, "王书记")
    assert after.session_version == account.session_version + 1
    assert passwords.verify(after.password_hash, "another-password-1")

    assert invoke(config, "admin", "disable", "王书记").exit_code == 0
    assert not admins.by_name(built[-1].store.db, "王书记").active
    actions = [r[0] for r in built[-1].store.db.execute("SELECT action FROM audit WHERE actor = 'cli'")]
    assert actions == ["account.create", "account.password", "account.disable"]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, built):
    config = write_config(tmp_path / "config.toml")
    cases = [
        (["admin", "create", "x", "--password-stdin"], GOOD + "\n", "账号名须为 2 到 32 个字符"),
        (["admin", "create", "张三", "--password-stdin"], "short\n", "密码至少 10 个字符"),
        (["admin", "create", "张三", "--role", "secretary", "--password-stdin"], GOOD + "\n",
         "支部书记账号必须指定所属支部"),
        (["admin", "create", "张三", "--password-stdin"], "", "标准输入中没有密码"),
        (["admin", "passwd", "nobody", "--password-stdin"], GOOD + "\n", "没有名为 nobody 的账号"),
        (["admin", "disable", "nobody"], None, "没有名为 nobody 的账号"),
    ]
    for args, stdin, message in cases:
        result = invoke(config, *args, stdin=stdin)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output
    assert admins.all_admins(built[-1].store.db) == []


def test_no_terminal_and_no_password_says_how(tmp_path, built):
    config = write_config(tmp_path / "config.toml")
    result = invoke(config, "admin", "create", "张三", stdin="")  # CliRunner: not a tty
    assert result.exit_code == 1
    assert "--password-stdin" in result.output


def test_duplicate_and_last_admin(tmp_path, built):
    config = write_config(tmp_path / "config.toml")
    assert invoke(config, "admin", "create", "root", "--password-stdin", stdin=GOOD).exit_code == 0
    again = invoke(config, "admin", "create", "root", "--password-stdin", stdin=GOOD)
    assert again.exit_code == 1 and "账号 root 已存在" in again.output
    last = invoke(config, "admin", "disable", "root")
    assert last.exit_code == 1 and "不能停用最后一个管理员账号" in last.output
    assert admins.by_name(built[-1].store.db, "root").active
