"""Warnings for `config check`: things that work but an operator should know."""

from __future__ import annotations

import sqlite3
from datetime import date

import sqlite_utils

from bot.audience import stored_problems
from bot.config import Config
from bot.holidays import Calendar, HolidayConfigError
from bot.library import ContentError, load_library

COVERAGE_DAYS = 60


def config_errors(config: Config) -> list[str]:
    """Problems that would stop `init` or the scheduler: `config check` fails on these."""
    return content_problems(config) + holiday_file_problems(config)


def config_warnings(config: Config, today: date) -> list[str]:
    """Things that work but an operator should know."""
    warnings = holiday_coverage(config, today)
    real_channel = config.get("mp.enabled") or config.get("wecom.enabled")
    if real_channel and config.get("sandbox.enabled"):
        warnings.append("已接入真实渠道但沙箱仍开启：/sim 页面可冒充任何成员，上线前请在 [sandbox] 设 enabled = false")
    if config.get("mp.enabled") and not config.get("mp.app_secret"):
        warnings.append("公众号未设置 QINGFENG_MP_APP_SECRET：只能被动回复，无法主动推送")
    if config.get("wecom.enabled") and not config.get("wecom.secret"):
        warnings.append("企业微信未设置 QINGFENG_WECOM_SECRET：只能被动回复，无法主动推送")
    return (warnings + mp_mode_warnings(config) + stored_audience_problems(config)
            + birthday_problems(config))


def mp_mode_warnings(config: Config) -> list[str]:
    """The Official Account's mode against its key (issue 11): a mode without its key stops
    start-up already (bot.config); these work but are not what a live branch should run."""
    mp = config.section("mp")
    if not mp["enabled"]:
        return []
    if mp["mode"] == "plain" and mp["encoding_aes_key"]:
        return ["公众号设了 mp.mode = \"plain\"（明文模式），已设置的 EncodingAESKey 起不到保护作用："
                "明文消息照样被接受，而明文签名不覆盖消息内容；请在公众平台改用安全模式并删去 mp.mode"
                "（有密钥时默认安全模式）"]
    if mp["mode"] == "plain":
        return ["公众号按明文模式运行（未设置 QINGFENG_MP_ENCODING_AES_KEY）：签名不覆盖消息内容，"
                "任何人拿到一条回调地址就能冒充成员发消息，请勿用于成员数据，上线前请改用安全模式"]
    if mp["mode"] == "compatible":
        return ["公众号为兼容模式（mp.mode = \"compatible\"）：只应在切换期间使用，"
                "公众平台改为安全模式后请设 mp.mode = \"safe\" 或删去该项"]
    return []


def stored_audience_problems(config: Config) -> list[str]:
    """Schedules and tasks that name a group several branches have by its name alone
    (bot.audience.stored_problems), read from the database without changing it."""
    path = config.store_path
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return stored_problems(sqlite_utils.Database(conn))
    except sqlite3.Error:
        return []  # not created by `init` yet: nothing stored to warn about
    finally:
        conn.close()


def birthday_problems(config: Config) -> list[str]:
    """党员政治生日 turned on with no 入党时间 on the roster would never send anything."""
    if not config.get("birthday.enabled") or not config.store_path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{config.store_path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        (dated,) = conn.execute("SELECT count(*) FROM members WHERE active = 1"
                                " AND party_joined_on IS NOT NULL").fetchone()
    except sqlite3.Error:
        return []  # not created or not upgraded by `init` yet
    finally:
        conn.close()
    if dated:
        return []
    return ["已开启党员政治生日（[birthday] enabled = true），但名册中没有任何在册党员填写了入党时间："
            "请导入含“入党时间”列的名册，否则不会发出任何祝福或名单"]


def content_problems(config: Config) -> list[str]:
    """The content files must load: a broken one would stop `init`."""
    try:
        load_library(config.content_path)
    except ContentError as exc:
        return [f"内容文件有错误：{exc}"]
    return []


def holiday_file_problems(config: Config) -> list[str]:
    path = config.content_path / "holidays.toml"
    try:
        if path.exists():
            Calendar.from_file(path)
    except HolidayConfigError as exc:
        return [f"节假日调整文件有错误：{exc}"]
    return []


def holiday_coverage(config: Config, today: date) -> list[str]:
    """Days in the next 60 whose working-day status rests on an estimate, not official data."""
    path = config.content_path / "holidays.toml"
    try:
        calendar = Calendar.from_file(path) if path.exists() else Calendar()
    except HolidayConfigError:
        return []  # reported by holiday_file_problems
    uncovered = calendar.uncovered_days(today, COVERAGE_DAYS)
    if not uncovered:
        return []
    return [f"未来 {COVERAGE_DAYS} 天中从 {uncovered[0]} 起的 {len(uncovered)} 天没有官方放假安排，"
            f"工作日和廉洁提醒日期为估算；国务院公布后请填写 {path}"]
