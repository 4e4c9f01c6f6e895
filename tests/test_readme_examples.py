"""Every example README.md gives works on a fresh `init` (the demo roster and content/): the
chat messages of the Quickstart and of 「What members can say」, sent through /sim as the
README says (a demo member; binding from an unbound visitor; 定时 from an admin), and the
concrete commands of 「Command line」 and the shell examples, run through the CLI. The examples
are parsed out of README.md, so this fails when the README promises something that does not
answer (「没有找到」, 没听懂, an error), and when a change of wording makes it stop parsing.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.cli
from bot.cli import cli
from bot.config import load_config
from bot.seed import initialise
from bot.store import members
from handlers.bind import HOW_TO_BIND
from tests.paths import CONTENT, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
QUOTED = re.compile(r"「([^」]+)」")
# What a reply must never be for a README example.
FAILURES = ("没有找到", "没有听懂", "没看懂", "出错", "稍后再试", HOW_TO_BIND)
# Commands left out, and why (each is exercised elsewhere).
NOT_RUN = {
    "serve": "runs until stopped: tests/test_console_setup.py serves it",
    "menu push": "calls the platform's API with real credentials: tests/test_menu.py (fake API)",
    "admin create": "named in prose; the Admin console section gives it with its arguments",
}


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert found, f"README.md has no section 「{title}」"
    return found.group(1)


# --- chat ------------------------------------------------------------------------------------


def quickstart_chat() -> tuple[list[str], list[str]]:
    """(what a demo member sends, what an unbound visitor sends) in the Quickstart."""
    text = section("Quickstart")
    found = re.search(r"Open http://127\.0\.0\.1:8080/sim(.*?)Choose 「([^」]+)」(.*?)Ctrl-C", text,
                      re.S)
    assert found, "the Quickstart's simulator paragraph"
    button = found.group(2)
    assert f">{button}</button>" in (ROOT / "bot/templates/sim.html").read_text(encoding="utf-8")
    return QUOTED.findall(found.group(1)), QUOTED.findall(found.group(3))


def table_messages() -> list[tuple[str, bool]]:
    """(message, from an admin) for every literal message in the members' table; items in
    English (「a question naming a known term」, 「image, voice」) describe, they are not sent,
    and the row of answers waits for a question (「(after 答题)」: tests/test_quiz_chat.py)."""
    rows = [line for line in section("What members can say").splitlines()
            if line.startswith("| ") and not line.startswith("| message")]
    found = []
    for row in rows:
        cell = row.split(" | ")[0].removeprefix("| ")
        if "(after" in cell:
            continue
        admin = "(admins)" in cell
        for item in cell.replace("(admins)", "").split(" / "):
            item = item.strip()
            if item and not re.search(r"[A-Za-z]", item):
                found.append((item, admin))
    return found


def test_the_readme_has_examples_to_walk():
    member, visitor = quickstart_chat()
    assert "帮助" in member and len(member) >= 6 and visitor
    assert len(table_messages()) >= 30


def sim_user(services, name: str) -> str:
    member = next(m for m in members.list_members(services.store.db) if m.name == name)
    return f"m{member.id}"


def send(client, user: str, text: str) -> str:
    response = client.post("/sim/api/send", json={"user": user, "text": text})
    assert response.status_code == 200, (text, response.get_data(as_text=True))
    return response.get_json()["reply"]


def assert_answers(text: str, reply: str) -> None:
    assert reply, text
    for failure in FAILURES:
        assert failure not in reply, f"README example 「{text}」 answered: {reply}"


@pytest.fixture
def demo(make_services):
    from bot import create_app

    services = make_services()  # a fresh init with the demo roster and content/
    return services, create_app(services=services).test_client()


def test_the_quickstart_chat_answers(demo):
    services, client = demo
    member, visitor = quickstart_chat()
    user = sim_user(services, "王建国")
    for text in member:
        assert_answers(text, send(client, user, text))
    stranger = client.post("/sim/api/visitor").get_json()["user"]
    for text in visitor:
        reply = send(client, stranger, text)
        assert "已绑定" in reply or "绑定成功" in reply, reply


def test_every_message_in_the_members_table_answers(demo):
    services, client = demo
    member, admin = sim_user(services, "李红梅"), sim_user(services, "陈静")
    for text, by_admin in table_messages():
        assert_answers(text, send(client, admin if by_admin else member, text))


def test_the_bind_example_binds_the_visitor(demo):
    services, client = demo
    [text] = [t for t in quickstart_chat()[1] if t.startswith("绑定")]
    stranger = client.post("/sim/api/visitor").get_json()["user"]
    reply = send(client, stranger, text)
    assert "李红梅" in reply and "无需重复" not in reply, reply
    assert members.find_by_identity(services.store.db, "sandbox", stranger) is not None


def test_an_article_the_selection_leaves_out_says_it_is_a_selection(demo):
    """The README once promised 第八十八条, which the default library does not carry: a member
    who asks for it learns the library is a selection, and how to get the full text."""
    services, client = demo
    reply = send(client, sim_user(services, "李红梅"), "纪律处分条例第八十八条")
    assert reply == ("《纪律处分条例》里没有找到第八十八条。条文库目前只收录了这部法规的 23 条重点条文，"
                     "全文可请党务干部在管理后台导入。发送「搜 关键词」试试全文搜索。")


# --- the command line ------------------------------------------------------------------------


PLACEHOLDER = re.compile(r"\b(?:[A-Z][A-Z_]*|YYYY[-\w]*)\b|\.\.\.|\(")


def cli_examples() -> list[str]:
    """Concrete commands: each row of 「Command line」 as written without its [options] (one
    per alternative after \\|), and every `python -m bot ...` the README shows in full."""
    commands = []
    for row in section("Command line").splitlines():
        cell = re.match(r"\| `([^`]+)` \|", row)
        if not cell or "(" in cell.group(1):  # (--at ... \| --daily ...): needs its arguments
            continue
        written = re.sub(r"\s*\[[^\]]*\](?:\.\.\.)?", "", cell.group(1))
        alternatives = [a.strip() for a in written.split("\\|")]
        group = alternatives[0].split()[0]
        for i, alt in enumerate(alternatives):
            if i and not alt.startswith(group):
                alt = f"{group} {alt}"
            commands.append(alt)
    for line in README.splitlines():
        shell = re.search(r"(?:^\s*|\|\s*|`)(?:\.venv/bin/)?python -m bot ([^`#|]+)", line)
        if shell:
            commands.append(shell.group(1).strip())
    return [c for c in dict.fromkeys(commands)
            if not PLACEHOLDER.search(c) and c not in NOT_RUN]


@pytest.fixture
def config(tmp_path, built) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "readme.db"}"\n\n[content]\npath = "{CONTENT}"\n'
                    f'\n[backup]\ndir = "{tmp_path / "backups"}"\n', encoding="utf-8")
    initialise(bot.cli.build_services(load_config(path)))
    return path


def test_the_readme_has_commands_to_run():
    commands = cli_examples()
    for expected in ("init", "config check", "members list", "tasks list", "admin list",
                     "backup create", "admin create 张书记"):
        assert expected in commands, (expected, commands)


def test_every_concrete_command_in_the_readme_runs(config, monkeypatch):
    monkeypatch.setenv("QINGFENG_ADMIN_PASSWORD", "readme-example-password")
    runner = CliRunner()
    for command in cli_examples():
        args = shlex.split(command)
        stdin = "readme-example-password\n" if "--password-stdin" in args else None
        result = runner.invoke(cli, ["--config", str(config), *args], input=stdin)
        assert result.exit_code == 0, (command, result.output)
        assert "错误" not in result.output and "Traceback" not in result.output, \
            (command, result.output)
