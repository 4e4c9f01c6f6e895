"""Configuration: one TOML file (no secrets) plus QINGFENG_<SECTION>_<KEY> environment overrides.

`load_config` turns a path or a dict of the same shape into a validated, frozen `Config`.
Every problem becomes a `ConfigError` whose message is one line naming the key, so a broken
file stops start-up with a sentence, not a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "QINGFENG_"
# The 入党誓词 as the Party Constitution (Article 6) gives it; birthday.oath may replace it.
OATH = ("我志愿加入中国共产党，拥护党的纲领，遵守党的章程，履行党员义务，执行党的决定，严守党的纪律，"
        "保守党的秘密，对党忠诚，积极工作，为共产主义奋斗终身，随时准备为党和人民牺牲一切，永不叛党。")
MAX_OATH_CHARS = 500

# Each section's keys with their type and default. A default of None means "required when the
# section is enabled". This table is the configuration reference the README documents.
SCHEMA: dict[str, dict[str, tuple[type, Any]]] = {
    "server": {
        "host": (str, "127.0.0.1"),
        "port": (int, 8080),
        "timezone": (str, "Asia/Shanghai"),
        "max_clock_skew_s": (int, 300),
        "workers": (int, 2),
        "threads": (int, 8),
        "secret_key": (str, ""),
        "public_url": (str, ""),
    },
    "store": {"path": (str, "var/qingfeng.db")},
    "backup": {"dir": (str, "var/backups"), "keep": (int, 14)},  # `python -m bot backup create`
    "content": {"path": (str, "content")},
    "mp": {
        "enabled": (bool, False),
        "app_id": (str, None),
        "token": (str, None),
        "encoding_aes_key": (str, ""),
        # safe | compatible | plain; empty: safe when encoding_aes_key is set, else plain.
        "mode": (str, ""),
        "app_secret": (str, ""),
        "api_base_url": (str, "https://api.weixin.qq.com/cgi-bin/"),
        "template_id": (str, ""),
    },
    "wecom": {
        "enabled": (bool, False),
        "corp_id": (str, None),
        "agent_id": (int, None),
        "token": (str, None),
        "encoding_aes_key": (str, None),
        "secret": (str, ""),
        "api_base_url": (str, "https://qyapi.weixin.qq.com/cgi-bin/"),
    },
    "sandbox": {"enabled": (bool, True)},
    # WeCom group robots (群机器人), one per branch: branch name -> the name of the environment
    # variable holding that robot's key (QINGFENG_ROBOT_...). The keys are secrets; the file
    # only says where to find them. Resolved into robots.keys (branch -> key) at load.
    "robots": {
        "enabled": (bool, False),
        "api_base_url": (str, "https://qyapi.weixin.qq.com/cgi-bin/"),
        "branches": (dict, {}),
    },
    "bind": {"max_failures": (int, 5), "pause_minutes": (int, 15)},
    "scheduler": {
        "misfire_grace_s": (int, 3600),   # a fire missed by less is sent at start; older: missed
        "tick_s": (int, 10),              # how often the leader looks for due fires
    },
    "console": {                          # the admin console at /admin (issue 6)
        "idle_minutes": (int, 30),        # a session unused this long must log in again
        "max_failures": (int, 5),         # failed logins of one account before its lockout
        "lockout_minutes": (int, 15),     # how long that lockout lasts
        "trust_proxy": (bool, False),     # believe X-Forwarded-Proto/-For (behind nginx only)
    },
    "reading": {
        "order": (str, "shuffle"),        # sequential | shuffle | weekly
        "seed": (int, 2026),              # the shuffle's seed: same library, same order
        "push_time": (str, "08:30"),
        "workdays_only": (bool, True),
        "weekly_plan": (dict, {}),        # weekday (monday..sunday) -> tag, for order = "weekly"
    },
    "nudge": {                            # 督学: private reminders about study tasks (bot/nudges.py)
        "enabled": (bool, False),
        "send_time": (str, "09:30"),      # on working days only
        "monthly_day": (int, 20),         # the monthly "still unfinished" reminder (1-28)
        "days_before_due": (int, 3),      # remind N days before a required task is due (0-30)
        "inactive_days": (int, 7),        # remind after K days without a check-in (0: off)
    },
    "birthday": {                         # 党员政治生日 (bot/political_birthday.py)
        "enabled": (bool, False),         # greetings and the secretaries' monthly list
        "send_time": (str, "09:00"),      # every day (greetings) / first working day (list)
        "oath": (str, OATH),              # the 入党誓词 quoted in the greeting
    },
}
READING_ORDERS = ("sequential", "shuffle", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Keys that must never be written in config.toml; they come from the environment only.
SECRET_KEYS = {
    ("mp", "token"), ("mp", "encoding_aes_key"), ("mp", "app_secret"),
    ("wecom", "token"), ("wecom", "encoding_aes_key"), ("wecom", "secret"),
    ("server", "secret_key"),
}


class ConfigError(ValueError):
    """A configuration problem, phrased as one line an operator can act on."""


@dataclass(frozen=True)
class Config:
    """The validated settings: `cfg.section("mp")["token"]`, or the shortcuts below."""

    sections: Mapping[str, Mapping[str, Any]]
    source: str = "<dict>"
    base_dir: Path = field(default_factory=Path.cwd)

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections[name]

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.sections[section][key]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.get("server.timezone"))

    @property
    def store_path(self) -> Path:
        return self._resolve(self.get("store.path"))

    @property
    def backup_dir(self) -> Path:
        return self._resolve(self.get("backup.dir"))

    @property
    def content_path(self) -> Path:
        return self._resolve(self.get("content.path"))

    def _resolve(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() or value == ":memory:" else self.base_dir / path


def load_config(source: str | Path | Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read, merge with the environment, and validate. `source` None means ./config.toml."""
    env = os.environ if env is None else env
    if isinstance(source, Mapping):
        raw, origin, base = dict(source), "<dict>", Path.cwd()
    else:
        path = Path(source or "config.toml")
        raw, origin, base = _read_toml(path), str(path), path.resolve().parent
    _reject_unknown(raw, origin)
    if origin != "<dict>":  # a dict comes from code (tests, embedding), not a committed file
        _reject_secrets_in_file(raw, origin)
    sections = {name: _section(name, raw.get(name, {}), env, origin) for name in SCHEMA}
    _check_consistency(sections)
    sections["robots"]["keys"] = _robot_keys(sections["robots"], env)
    return Config(sections=sections, source=origin, base_dir=base)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _reject_unknown(raw: Mapping[str, Any], origin: str) -> None:
    for name, body in raw.items():
        if name not in SCHEMA:
            raise ConfigError(
                f"{origin}: unknown section [{_one_line(name)}] (known: {', '.join(SCHEMA)})")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{origin}: [{name}] must be a table of settings")
        for key in body:
            if key not in SCHEMA[name]:
                raise ConfigError(f"{origin}: unknown key {name}.{_one_line(key)}")


def _one_line(text: str) -> str:
    # A quoted TOML key may hold a line break; the message must stay one line.
    return text if text.isprintable() else repr(text)


def _reject_secrets_in_file(raw: Mapping[str, Any], origin: str) -> None:
    for section, key in SECRET_KEYS:
        if raw.get(section, {}).get(key):
            env_name = env_name_for(section, key)
            raise ConfigError(
                f"{origin}: {section}.{key} is a secret: remove it from the file and set {env_name}"
            )


def env_name_for(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _section(name: str, body: Mapping[str, Any], env: Mapping[str, str],
             origin: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, (kind, default) in SCHEMA[name].items():
        env_value = env.get(env_name_for(name, key))
        if env_value is not None:
            values[key] = _coerce_env(name, key, kind, env_value)
        elif key in body:
            values[key] = _check_type(name, key, kind, body[key], origin)
        else:
            values[key] = default
    return values


def _coerce_env(section: str, key: str, kind: type, text: str) -> Any:
    name = env_name_for(section, key)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{name}: expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {text!r}") from None
    return text


def _check_type(section: str, key: str, kind: type, value: Any, origin: str) -> Any:
    # bool is a subclass of int in Python; a port of `true` is a mistake worth naming.
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        expected = {str: "a string", int: "a whole number", bool: "true or false",
                    dict: "a table"}[kind]
        raise ConfigError(f"{origin}: {section}.{key} must be {expected}, got {value!r}")
    return value


def _check_consistency(sections: dict[str, dict[str, Any]]) -> None:
    server = sections["server"]
    if not 0 < server["port"] < 65536:
        raise ConfigError(f"server.port must be between 1 and 65535, got {server['port']}")
    if server["max_clock_skew_s"] < 0:
        raise ConfigError("server.max_clock_skew_s must be 0 (off) or more seconds")
    if server["workers"] < 1 or server["threads"] < 1:
        raise ConfigError("server.workers and server.threads must be at least 1")
    try:
        ZoneInfo(server["timezone"])
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: IsADirectoryError
        raise ConfigError(f"server.timezone: unknown time zone {server['timezone']!r}") from None
    if sections["backup"]["keep"] < 1:
        raise ConfigError(f"backup.keep must be at least 1, got {sections['backup']['keep']}")
    _check_reading(sections["reading"])
    _check_nudge(sections["nudge"])
    _check_birthday(sections["birthday"])
    for key in ("idle_minutes", "max_failures", "lockout_minutes"):
        if sections["console"][key] < 1:
            raise ConfigError(f"console.{key} must be at least 1, got {sections['console'][key]}")
    _resolve_mp_mode(sections["mp"])
    for name in ("mp", "wecom"):
        if sections[name]["enabled"]:
            _require_enabled(name, sections[name])
    if not any(sections[name]["enabled"] for name in ("mp", "wecom", "sandbox")):
        raise ConfigError("no channel is enabled: enable [sandbox], [mp] or [wecom]")


MP_MODES = ("safe", "compatible", "plain")


def _resolve_mp_mode(mp: dict[str, Any]) -> None:
    """mp.mode as the webhook reads it: safe by default when a key is set (a plaintext POST's
    signature does not cover its body, so with a key only encrypted POSTs are accepted)."""
    mode = (mp["mode"] or ("safe" if mp["encoding_aes_key"] else "plain")).lower()
    if mode not in MP_MODES:
        raise ConfigError(f"mp.mode must be one of {', '.join(MP_MODES)}, got {mp['mode']!r}")
    if mp["enabled"] and mode != "plain" and not mp["encoding_aes_key"]:
        raise ConfigError(f"mp.mode is {mode} but mp.encoding_aes_key is missing: set "
                          f"{env_name_for('mp', 'encoding_aes_key')} or mp.mode = \"plain\"")
    mp["mode"] = mode


ROBOT_ENV = re.compile(r"QINGFENG_ROBOT_[A-Z0-9_]+")
ROBOT_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


def _robot_keys(robots: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """branch -> robot key, from the environment variables robots.branches names."""
    if not robots["enabled"]:
        return {}
    if not robots["branches"]:
        raise ConfigError('[robots] is enabled but robots.branches is empty: add e.g.'
                          ' branches = { "第一党支部" = "QINGFENG_ROBOT_1" }')
    keys = {}
    for branch, variable in robots["branches"].items():
        where = f"robots.branches.{_one_line(branch)}"
        if not isinstance(variable, str) or not ROBOT_ENV.fullmatch(variable):
            raise ConfigError(f"{where} must name an environment variable like QINGFENG_ROBOT_1"
                              " (the robot's key is a secret: put it in that variable)")
        keys[branch] = _robot_key(where, variable, env.get(variable, ""))
    return keys


def _robot_key(where: str, variable: str, value: str) -> str:
    value = value.strip()
    if "key=" in value:  # the whole webhook address pasted from WeCom: take its key
        value = value.split("key=", 1)[1].split("&", 1)[0]
    if not value:
        raise ConfigError(f"{where}: {variable} is not set (the robot's key, from the group's"
                          " 群机器人 webhook address)")
    if not ROBOT_KEY.fullmatch(value):
        raise ConfigError(f"{where}: {variable} does not look like a robot key"
                          " (letters, digits and '-' only)")
    return value


def _check_reading(reading: dict[str, Any]) -> None:
    if reading["order"] not in READING_ORDERS:
        raise ConfigError(f"reading.order must be one of {', '.join(READING_ORDERS)},"
                          f" got {reading['order']!r}")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", reading["push_time"]):
        raise ConfigError(f"reading.push_time must look like 08:30, got {reading['push_time']!r}")
    for day, tag in reading["weekly_plan"].items():
        if day not in WEEKDAYS or not isinstance(tag, str):
            raise ConfigError(f"reading.weekly_plan: {day!r} = {tag!r}: use a weekday name"
                              " (monday..sunday) and a tag in quotes")
    if reading["order"] == "weekly" and not reading["weekly_plan"]:
        raise ConfigError('reading.order = "weekly" needs reading.weekly_plan')


def _check_nudge(nudge: dict[str, Any]) -> None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", nudge["send_time"]):
        raise ConfigError(f"nudge.send_time must look like 09:30, got {nudge['send_time']!r}")
    # 1-28 so that the day exists in every month, February included.
    if not 1 <= nudge["monthly_day"] <= 28:
        raise ConfigError(f"nudge.monthly_day must be a day from 1 to 28, got {nudge['monthly_day']}")
    if not 0 <= nudge["days_before_due"] <= 30:
        raise ConfigError("nudge.days_before_due must be 0 (on the due day) to 30,"
                          f" got {nudge['days_before_due']}")
    if not 0 <= nudge["inactive_days"] <= 365:
        raise ConfigError("nudge.inactive_days must be 0 (off) to 365,"
                          f" got {nudge['inactive_days']}")


def _check_birthday(birthday: dict[str, Any]) -> None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", birthday["send_time"]):
        raise ConfigError(f"birthday.send_time must look like 09:00, got {birthday['send_time']!r}")
    birthday["oath"] = birthday["oath"].strip()
    if not birthday["oath"] or len(birthday["oath"]) > MAX_OATH_CHARS:
        raise ConfigError(f"birthday.oath must be the oath's text (1 to {MAX_OATH_CHARS}"
                          f" characters), got {len(birthday['oath'])} characters")


def _require_enabled(name: str, values: dict[str, Any]) -> None:
    for key, (_kind, default) in SCHEMA[name].items():
        if default is None and values[key] in (None, ""):
            where = env_name_for(name, key) if (name, key) in SECRET_KEYS else f"{name}.{key}"
            raise ConfigError(f"[{name}] is enabled but {name}.{key} is missing: set {where}")
    aes_key = values.get("encoding_aes_key") or ""
    if aes_key and len(aes_key) != 43:
        raise ConfigError(
            f"{name}.encoding_aes_key must be 43 characters (got {len(aes_key)}): "
            f"copy it again from the platform's console"
        )
