"""`python -m bot --help` in Chinese: the help texts are written in Chinese where each command is
declared; this module puts click's own words (Usage, Options, Commands, --help, [default: x])
in Chinese too, and names the choices an option takes (its values stay English: they are what
one types)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import click

from bot.store.members import ROLES

HEADINGS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}
HELP_TEXT = "显示本帮助并退出。"


def choices_help(names: Mapping[str, str]) -> str:
    """「member 党员、group_leader 党小组长…」: what each value of a Choice means."""
    return "、".join(code if code == name else f"{code} {name}" for code, name in names.items())


ROLE_CHOICES_HELP = choices_help(ROLES)


class ChineseHelpFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, "用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{HEADINGS.get(heading, heading)}：\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        rows = [(term, text.replace("[default: ", "[默认：").replace("[required]", "[必填]")
                 .replace("; required]", "；必填]")) for term, text in rows]
        super().write_dl(rows, col_max, col_spacing)


class ChineseContext(click.Context):
    formatter_class = ChineseHelpFormatter


def walk(command: click.Command) -> Iterator[click.Command]:
    """The command and every command below it."""
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from walk(sub)


def localise(root: click.Group) -> None:
    """Chinese help chrome for `root` and every command below it (call once all are added)."""
    for command in walk(root):
        command.context_class = ChineseContext
        if command.add_help_option:
            command.add_help_option = False  # replaced by the same option with Chinese help
            click.help_option("--help", help=HELP_TEXT)(command)
