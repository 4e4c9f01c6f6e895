"""Command groups of `python -m bot` that live in modules of their own.

Each module here defines one click group named `group`, using `Ctx` and `pass_ctx` from
`bot.cli`, and is listed in MODULES; `bot.cli` adds every group to the root command.
"""

from __future__ import annotations

import importlib

import click

MODULES: tuple[str, ...] = (
    "nudges",
    "birthdays",
    "report",
    "backup",
    "admin",
    "alerts",
    "tasks",
    "menu",
    "votes",
    "meetings",
)


def register_all(root: click.Group) -> None:
    for name in MODULES:
        module = importlib.import_module(f"bot.commands.{name}")
        root.add_command(module.group)
