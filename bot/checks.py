"""Warnings for `config check`: things that work but an operator should know."""

from __future__ import annotations

from bot.config import Config


def config_warnings(config: Config) -> list[str]:
    warnings = []
    real_channel = config.get("mp.enabled") or config.get("wecom.enabled")
    if real_channel and config.get("sandbox.enabled"):
        warnings.append("已接入真实渠道但沙箱仍开启：/sim 页面可冒充任何成员，上线前请在 [sandbox] 设 enabled = false")
    if config.get("server.workers") > 1 and not config.get("server.secret_key"):
        warnings.append("未设置 QINGFENG_SERVER_SECRET_KEY：多个进程之间的登录会话无法共享")
    if config.get("mp.enabled") and not config.get("mp.app_secret"):
        warnings.append("公众号未设置 QINGFENG_MP_APP_SECRET：只能被动回复，无法主动推送")
    if config.get("wecom.enabled") and not config.get("wecom.secret"):
        warnings.append("企业微信未设置 QINGFENG_WECOM_SECRET：只能被动回复，无法主动推送")
    return warnings
