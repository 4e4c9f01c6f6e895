"""`python -m bot --help` and every subcommand's help are Chinese: each group, command and option
says what it does in Chinese; option names, metavars, file and format names stay as typed."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest

from bot.cli import cli
from bot.cli_help import walk
from tests.paths import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
# What may stay Latin in a help text: option names, metavars and format names (CSV, XLSX,
# YYYY-MM, TOML), file and path names, quoted examples, choice values followed by their name.
ALLOWED = re.compile(r"python -m bot(?: [a-z-]+)*|--?[\w-]+|\b[A-Z][A-Z0-9_-]*\b|\S+\.\w+|\S*/\S*|'[^']*'|\"[^\"]*\"|\[[^\]]*\]"
                     r"|\b[a-z_]+(?= [\u4e00-\u9fff])|\b(?:https?|gunicorn|cron|markdown|text|"
                     r"mp|wecom|secret|dir|keep|mon|sun|jlcf-\d+-\d+)\b")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}(?:[\s,:;()]+[A-Za-z]{2,})+")  # two words in a row


def english_left(text: str) -> list[str]:
    return ENGLISH_WORDS.findall(ALLOWED.sub(" ", text))


def every_help() -> list[tuple[str, str]]:
    """(where, text) for every command's help and every option's help in the tree."""
    found = []
    for command in walk(cli):
        ctx = click.Context(command, info_name=command.name)
        found.append((f"{command.name}", command.help or ""))
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                found.append((f"{command.name} {param.opts[0]}", param.help or ""))
    return found


def test_the_tree_is_walked_whole():
    names = {c.name for c in walk(cli)}
    assert {"cli", "schedule", "add", "pause", "tasks", "admin", "backup", "month"} <= names
    assert len(every_help()) > 100


@pytest.mark.parametrize(("where", "text"), every_help(), ids=lambda v: str(v)[:40])
def test_every_help_text_is_chinese(where, text):
    assert CJK.search(text), f"{where}: no Chinese help: {text!r}"
    assert not english_left(text), f"{where}: English left in {text!r}: {english_left(text)}"


@pytest.mark.parametrize("sentence", [
    "Create a schedule and show its preview.", "Show this message and exit.",
    "YYYY-MM (default: this month).", "一条 help with English words",
])
def test_the_check_catches_english(sentence):
    assert english_left(sentence)


def test_option_names_and_formats_may_stay():
    assert not english_left("写入的文件（CSV 不指定时输出到屏幕；XLSX 必须指定，--out 文件名.xlsx）。")
    assert not english_left("角色（member 党员、group_leader 党小组长）；月份写作 YYYY-MM。")


def _help(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bot", *args, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


@pytest.mark.parametrize("args", [(), ("schedule", "add"), ("report", "month"), ("admin",)])
def test_the_printed_help_is_chinese_too(args):
    """click's own words (Usage, Options, Commands, --help, [default: ...]) as well."""
    text = _help(*args)
    assert text.startswith("用法：python -m bot")
    assert "选项：" in text and "显示本帮助并退出。" in text
    for word in ("Usage", "Options", "Commands", "Show this message", "default:"):
        assert word not in text, (args, word)
    for line in text.splitlines():
        assert not english_left(line.replace("[OPTIONS] COMMAND [ARGS]...", "")), (args, line)
    if not args:
        assert "命令：" in text and "定时消息：一次或周期发送" in text
