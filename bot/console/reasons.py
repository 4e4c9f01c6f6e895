"""Delivery failure reasons, as the ledger stores them (short English for operators), in
Chinese for the secretary. An unknown reason is shown as stored: never hidden."""

from __future__ import annotations

import re

from bot.console.base import bp

ERRCODES = {
    "43004": "对方未关注公众号",
    "45015": "超过 48 小时未与公众号互动，无法发送客服消息",
    "45047": "客服消息条数超过上限",
    "40003": "openid 无效",
    "60111": "企业微信账号不存在",
    "81013": "企业微信账号不存在或不在应用可见范围",
    "82001": "企业微信账号不在应用可见范围",
    "45009": "接口调用次数已用完",
    "40164": "服务器 IP 不在平台白名单",
}


@bp.app_template_filter("reason")
def reason(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        return "（未记录原因）"
    if text.startswith("no channel"):
        return "未绑定企业微信或公众号"
    if text == "network: no answer":
        return "网络无响应"
    if match := re.match(r"HTTP (\d{3})", text):
        return f"平台服务器出错（HTTP {match.group(1)}）"
    if match := re.match(r"errcode (\d+)", text):
        known = ERRCODES.get(match.group(1))
        return f"{known}（{match.group(1)}）" if known else text
    return text
