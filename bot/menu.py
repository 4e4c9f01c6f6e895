"""The custom menu (自定义菜单) members see under the chat box, on both platforms.

Every button is a "click" whose key handlers/events.py answers as if its words were typed, so
the menu and the words never drift apart: a key missing from MENU_KEYS fails `menu_data()`.
An Official Account in developer mode can only set its menu through the API (`python -m bot
menu push`); WeCom apps may use either.
"""

from __future__ import annotations

from typing import Any

from handlers.events import MENU_KEYS

# (top-level name, [(button name, key)]): a top level with one entry is a button itself.
LAYOUT: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("打卡", (("打卡", "CHECKIN"),)),
    ("学习", (("今日纪法", "READING"), ("本月任务", "TASKS"), ("每日一题", "QUIZ"))),
    ("我的", (("我的进度", "STATS"), ("会议签到", "MEETING_SIGNIN"), ("帮助", "HELP"))),
)
# The platforms' limits: 3 top-level buttons of at most 16 bytes (4 Chinese characters), each
# with at most 5 sub-buttons of at most 60 bytes.
MAX_TOP, MAX_SUB, TOP_BYTES, SUB_BYTES = 3, 5, 16, 60


def menu_data() -> dict[str, Any]:
    """The JSON body of menu/create, checked against the platforms' limits."""
    if len(LAYOUT) > MAX_TOP:
        raise ValueError(f"a menu has at most {MAX_TOP} top-level buttons")
    buttons = []
    for top, entries in LAYOUT:
        _check_name(top, TOP_BYTES)
        if len(entries) == 1:
            buttons.append(_click(top, entries[0][1]))
            continue
        if len(entries) > MAX_SUB:
            raise ValueError(f"{top}: at most {MAX_SUB} sub-buttons")
        subs = []
        for name, key in entries:
            _check_name(name, SUB_BYTES)
            subs.append(_click(name, key))
        buttons.append({"name": top, "sub_button": subs})
    return {"button": buttons}


def _click(name: str, key: str) -> dict[str, str]:
    if key not in MENU_KEYS:
        raise ValueError(f"menu key {key} is not answered (handlers/events.py MENU_KEYS)")
    return {"type": "click", "name": name, "key": key}


def _check_name(name: str, limit: int) -> None:
    if not name or len(name.encode()) > limit:
        raise ValueError(f"menu button name {name!r} must be 1..{limit} bytes")
