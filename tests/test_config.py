"""Configuration: defaults, a full file, environment overrides, and one clear line per mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import SCHEMA, ConfigError, load_config
from tests.paths import ROOT

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the platforms issue
assert len(AES_KEY) == 43

FULL_FILE = """\
[server]
host = "10.1.2.3"
port = 9090
timezone = "Asia/Urumqi"
max_clock_skew_s = 120
workers = 3
threads = 4
public_url = "https://qingfeng.example.gov.cn"

[store]
path = "data/qf.db"

[content]
path = "my-content"

[sandbox]
enabled = false

[mp]
enabled = true
app_id = "wx0123456789abcdef"
template_id = "TPL-1"

[wecom]
enabled = true
corp_id = "ww0123456789abcdef"
agent_id = 1000002

[bind]
max_failures = 3
pause_minutes = 30
"""

FULL_ENV = {
    "QINGFENG_MP_TOKEN": "mp-token",
    "QINGFENG_MP_ENCODING_AES_KEY": AES_KEY,
    "QINGFENG_MP_APP_SECRET": "mp-secret",
    "QINGFENG_WECOM_TOKEN": "wecom-token",
    "QINGFENG_WECOM_ENCODING_AES_KEY": AES_KEY,
    "QINGFENG_WECOM_SECRET": "wecom-secret",
    "QINGFENG_SERVER_SECRET_KEY": "session-key",
}


@pytest.fixture(autouse=True)
def no_qingfeng_environment(monkeypatch):
    """The CLI reads os.environ: a developer's QINGFENG_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("QINGFENG_"):
            monkeypatch.delenv(name)


REPO_CONTENT = f'[content]\npath = "{ROOT / "content"}"\n'


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(source, env=None) -> str:
    """The one-line message of the ConfigError that loading `source` must raise."""
    with pytest.raises(ConfigError) as caught:
        load_config(source, env={} if env is None else env)
    message = str(caught.value)
    assert message.strip(), "empty message"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    return message


# --- what loads ---------------------------------------------------------------------------


def test_defaults_from_an_empty_file(tmp_path):
    cfg = load_config(write(tmp_path, ""), env={})
    for section, keys in SCHEMA.items():
        for key, (_kind, default) in keys.items():
            if (section, key) != ("mp", "mode"):  # resolved at load, below
                assert cfg.get(f"{section}.{key}") == default, f"{section}.{key}"
    assert cfg.get("mp.mode") == "plain"  # no key: plaintext mode
    assert cfg.get("server.port") == 8080
    assert cfg.get("server.timezone") == "Asia/Shanghai"
    assert cfg.tz == ZoneInfo("Asia/Shanghai")
    assert cfg.get("sandbox.enabled") is True
    assert cfg.get("mp.enabled") is False and cfg.get("wecom.enabled") is False
    assert cfg.get("bind.max_failures") == 5 and cfg.get("bind.pause_minutes") == 15
    # Relative paths are relative to the file's folder, not to wherever the command runs.
    assert cfg.store_path == tmp_path / "var" / "qingfeng.db"
    assert cfg.content_path == tmp_path / "content"
    assert cfg.source == str(tmp_path / "config.toml")


def test_defaults_from_a_dict():
    cfg = load_config({}, env={})
    assert cfg.get("server.host") == "127.0.0.1"
    assert cfg.source == "<dict>"


def test_a_full_valid_file(tmp_path):
    cfg = load_config(write(tmp_path, FULL_FILE), env=FULL_ENV)
    server = cfg.section("server")
    assert server["host"] == "10.1.2.3"
    assert server["port"] == 9090
    assert cfg.tz == ZoneInfo("Asia/Urumqi")
    assert (server["max_clock_skew_s"], server["workers"], server["threads"]) == (120, 3, 4)
    assert server["public_url"] == "https://qingfeng.example.gov.cn"
    assert server["secret_key"] == "session-key"
    assert cfg.store_path == tmp_path / "data" / "qf.db"
    assert cfg.content_path == tmp_path / "my-content"
    assert cfg.get("sandbox.enabled") is False
    mp = cfg.section("mp")
    assert mp["enabled"] is True and mp["app_id"] == "wx0123456789abcdef"
    assert (mp["token"], mp["encoding_aes_key"], mp["app_secret"]) == ("mp-token", AES_KEY,
                                                                       "mp-secret")
    assert mp["template_id"] == "TPL-1"
    wecom = cfg.section("wecom")
    assert wecom["agent_id"] == 1000002 and wecom["corp_id"] == "ww0123456789abcdef"
    assert (wecom["token"], wecom["secret"]) == ("wecom-token", "wecom-secret")
    assert (cfg.get("bind.max_failures"), cfg.get("bind.pause_minutes")) == (3, 30)


def test_an_absolute_store_path_is_kept(tmp_path):
    target = tmp_path / "elsewhere" / "q.db"
    cfg = load_config(write(tmp_path, f'[store]\npath = "{target.as_posix()}"\n'), env={})
    assert cfg.store_path == target


def test_environment_overrides_win_over_the_file(tmp_path):
    env = {**FULL_ENV,
           "QINGFENG_MP_TOKEN": "from-env",
           "QINGFENG_SERVER_PORT": " 7070 ",
           "QINGFENG_SERVER_HOST": "10.0.0.5",
           "QINGFENG_SERVER_TIMEZONE": "UTC",
           "QINGFENG_SANDBOX_ENABLED": "yes",
           "QINGFENG_WECOM_ENABLED": "off",
           "QINGFENG_WECOM_AGENT_ID": "1000009",
           "QINGFENG_STORE_PATH": "other/place.db",
           "QINGFENG_BIND_PAUSE_MINUTES": "5"}
    cfg = load_config(write(tmp_path, FULL_FILE), env=env)
    assert cfg.get("mp.token") == "from-env"
    assert cfg.get("server.port") == 7070
    assert cfg.get("server.host") == "10.0.0.5"
    assert cfg.tz == ZoneInfo("UTC")
    assert cfg.get("sandbox.enabled") is True
    assert cfg.get("wecom.enabled") is False
    assert cfg.get("wecom.agent_id") == 1000009
    assert cfg.store_path == tmp_path / "other" / "place.db"
    assert cfg.get("bind.pause_minutes") == 5
    assert cfg.get("bind.max_failures") == 3  # not overridden: the file's value


@pytest.mark.parametrize("text, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True), (" On ", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False),
])
def test_environment_booleans(text, expected):
    cfg = load_config({}, env={"QINGFENG_SANDBOX_ENABLED": text,
                               "QINGFENG_MP_ENABLED": "1",
                               "QINGFENG_MP_APP_ID": "wx1", "QINGFENG_MP_TOKEN": "t"})
    assert cfg.get("sandbox.enabled") is expected


def test_the_real_environment_is_read_when_env_is_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("QINGFENG_SERVER_PORT", "8181")
    assert load_config(write(tmp_path, "")).get("server.port") == 8181


def test_the_config_is_frozen(tmp_path):
    cfg = load_config(write(tmp_path, ""), env={})
    with pytest.raises(AttributeError):
        cfg.source = "elsewhere"  # type: ignore[misc]


def test_the_shipped_config_toml_is_valid():
    cfg = load_config(ROOT / "config.toml", env={})
    assert cfg.get("sandbox.enabled") is True


# --- what is refused, in one line naming the key ------------------------------------------


def test_missing_file(tmp_path):
    message = config_error(tmp_path / "nowhere.toml")
    assert "nowhere.toml" in message and "not found" in message


def test_toml_syntax_error(tmp_path):
    message = config_error(write(tmp_path, "[server]\nport = = 8080\n"))
    assert "config.toml" in message and "TOML" in message and "line 2" in message


def test_a_file_that_is_not_utf8(tmp_path):
    # A config.toml saved as GBK by a Windows editor: a sentence, not a UnicodeDecodeError.
    path = tmp_path / "config.toml"
    path.write_bytes('[server]\nhost = "本机"\n'.encode("gbk"))
    message = config_error(path)
    assert "config.toml" in message and "UTF-8" in message


def test_a_folder_instead_of_a_file(tmp_path):
    (tmp_path / "config.toml").mkdir()
    assert "config.toml" in config_error(tmp_path / "config.toml")


def test_unknown_section(tmp_path):
    message = config_error(write(tmp_path, "[servr]\nport = 1\n"))
    assert "unknown section [servr]" in message and "server" in message


def test_a_section_that_is_not_a_table(tmp_path):
    assert "[server]" in config_error(write(tmp_path, "server = 8080\n"))


def test_unknown_key(tmp_path):
    assert "unknown key server.prot" in config_error(write(tmp_path, "[server]\nprot = 1\n"))


def test_unknown_key_with_a_line_break_in_its_name_is_still_one_line(tmp_path):
    message = config_error(write(tmp_path, '[server]\n"por\\nt" = 1\n'))
    assert "unknown key" in message and "server." in message
    message = config_error(write(tmp_path, '["serv\\ner"]\nport = 1\n'))
    assert "unknown section" in message


@pytest.mark.parametrize("line, key, shown", [
    ('port = "x"', "server.port", "'x'"),
    ("port = true", "server.port", "True"),
    ("port = 80.5", "server.port", "80.5"),
    ("host = 127", "server.host", "127"),
    ('workers = "2"', "server.workers", "'2'"),
])
def test_wrong_type_in_server(tmp_path, line, key, shown):
    message = config_error(write(tmp_path, f"[server]\n{line}\n"))
    assert key in message and "must be" in message and shown in message


def test_wrong_type_for_a_boolean(tmp_path):
    message = config_error(write(tmp_path, '[sandbox]\nenabled = "yes"\n'))
    assert "sandbox.enabled" in message and "true or false" in message


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia", "", "../etc/passwd", "Asia/Shanghai "])
def test_bad_timezone(tmp_path, zone):
    message = config_error(write(tmp_path, f'[server]\ntimezone = "{zone}"\n'))
    assert "server.timezone" in message and repr(zone) in message


def test_bad_timezone_from_the_environment():
    message = config_error({}, env={"QINGFENG_SERVER_TIMEZONE": "Beijing"})
    assert "server.timezone" in message and "Beijing" in message


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_out_of_range(tmp_path, port):
    message = config_error(write(tmp_path, f"[server]\nport = {port}\n"))
    assert "server.port" in message and str(port) in message


def test_port_at_the_edges_is_fine(tmp_path):
    assert load_config(write(tmp_path, "[server]\nport = 1\n"), env={}).get("server.port") == 1
    assert load_config({"server": {"port": 65535}}, env={}).get("server.port") == 65535


def test_negative_skew_and_zero_workers(tmp_path):
    assert "server.max_clock_skew_s" in config_error({"server": {"max_clock_skew_s": -1}})
    assert "server.workers" in config_error({"server": {"workers": 0}})


@pytest.mark.parametrize("section, key", [
    ("mp", "token"), ("mp", "encoding_aes_key"), ("mp", "app_secret"),
    ("wecom", "token"), ("wecom", "encoding_aes_key"), ("wecom", "secret"),
    ("server", "secret_key"),
])
def test_a_secret_in_the_file_is_refused(tmp_path, section, key):
    env_name = f"QINGFENG_{section.upper()}_{key.upper()}"
    # Refused even when the environment sets it too: the file must not hold it.
    message = config_error(write(tmp_path, f'[{section}]\n{key} = "s3cret"\n'),
                           env={env_name: "fine"})
    assert f"{section}.{key}" in message and env_name in message
    assert "s3cret" not in message  # the secret itself is not echoed into logs


def test_mp_token_in_the_file_names_the_variable(tmp_path):
    text = '[mp]\nenabled = true\napp_id = "wx1"\ntoken = "abc"\n'
    message = config_error(write(tmp_path, text), env={"QINGFENG_MP_TOKEN": "abc"})
    assert "mp.token" in message and "QINGFENG_MP_TOKEN" in message


def test_secrets_may_be_passed_in_a_dict_from_code():
    cfg = load_config({"mp": {"enabled": True, "app_id": "wx1", "token": "t"}}, env={})
    assert cfg.get("mp.token") == "t"


def test_enabled_mp_missing_app_id(tmp_path):
    message = config_error(write(tmp_path, "[mp]\nenabled = true\n"),
                           env={"QINGFENG_MP_TOKEN": "t"})
    assert "mp.app_id" in message and "[mp] is enabled" in message


def test_enabled_mp_missing_token_names_the_variable(tmp_path):
    message = config_error(write(tmp_path, '[mp]\nenabled = true\napp_id = "wx1"\n'))
    assert "mp.token" in message and "QINGFENG_MP_TOKEN" in message


def test_enabled_wecom_missing_agent_id(tmp_path):
    text = '[wecom]\nenabled = true\ncorp_id = "ww1"\n'
    env = {"QINGFENG_WECOM_TOKEN": "t", "QINGFENG_WECOM_ENCODING_AES_KEY": AES_KEY}
    assert "wecom.agent_id" in config_error(write(tmp_path, text), env=env)


def test_enabled_wecom_missing_aes_key_names_the_variable(tmp_path):
    text = '[wecom]\nenabled = true\ncorp_id = "ww1"\nagent_id = 1000002\n'
    message = config_error(write(tmp_path, text), env={"QINGFENG_WECOM_TOKEN": "t"})
    assert "wecom.encoding_aes_key" in message and "QINGFENG_WECOM_ENCODING_AES_KEY" in message


def test_a_disabled_channel_needs_nothing(tmp_path):
    cfg = load_config(write(tmp_path, "[mp]\nenabled = false\n[wecom]\nenabled = false\n"),
                      env={})
    assert cfg.get("mp.token") is None


@pytest.mark.parametrize("channel", ["mp", "wecom"])
def test_a_42_character_aes_key(tmp_path, channel):
    text = ('[mp]\nenabled = true\napp_id = "wx1"\n' if channel == "mp" else
            '[wecom]\nenabled = true\ncorp_id = "ww1"\nagent_id = 1\n')
    env = {f"QINGFENG_{channel.upper()}_TOKEN": "t",
           f"QINGFENG_{channel.upper()}_ENCODING_AES_KEY": AES_KEY[:42]}
    message = config_error(write(tmp_path, text), env=env)
    assert f"{channel}.encoding_aes_key" in message and "43" in message and "42" in message
    assert AES_KEY[:42] not in message


def test_no_channel_enabled(tmp_path):
    message = config_error(write(tmp_path, "[sandbox]\nenabled = false\n"))
    assert "no channel is enabled" in message


def test_no_channel_enabled_through_the_environment(tmp_path):
    message = config_error(write(tmp_path, ""), env={"QINGFENG_SANDBOX_ENABLED": "0"})
    assert "no channel is enabled" in message


@pytest.mark.parametrize("text", ["maybe", "2", "enabled", "y e s"])
def test_bad_boolean_in_the_environment(text):
    message = config_error({}, env={"QINGFENG_SANDBOX_ENABLED": text})
    assert "QINGFENG_SANDBOX_ENABLED" in message and repr(text) in message


@pytest.mark.parametrize("text", ["x", "80.5", "", "８０８０x"])
def test_bad_number_in_the_environment(text):
    message = config_error({}, env={"QINGFENG_SERVER_PORT": text})
    assert "QINGFENG_SERVER_PORT" in message and "whole number" in message


def test_environment_port_out_of_range():
    assert "server.port" in config_error({}, env={"QINGFENG_SERVER_PORT": "70000"})


# --- the command line ---------------------------------------------------------------------


def test_cli_config_check_accepts_a_good_file(tmp_path):
    path = write(tmp_path, f"[server]\nport = 8181\n{REPO_CONTENT}")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code == 0, result.output
    assert f"配置正确：{path}" in result.stdout


def test_cli_config_check_fails_when_the_content_cannot_load(tmp_path):
    # A config whose content folder is missing would stop `init`: an error, not a warning.
    path = write(tmp_path, "[server]\nport = 8181\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "错误：内容文件有错误" in result.output and "reminders.toml" in result.output
    assert "配置正确" not in result.output and "Traceback" not in result.output


def test_cli_config_check_warns_about_a_live_sandbox(tmp_path):
    path = write(tmp_path, f'[mp]\nenabled = true\napp_id = "wx1"\n{REPO_CONTENT}')
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"],
                                env={"QINGFENG_MP_TOKEN": "t"})
    assert result.exit_code == 0, result.output
    assert "注意：" in result.stdout and "沙箱" in result.stdout


@pytest.mark.parametrize("text, named", [
    ("[server]\nport = true\n", "server.port"),
    ("[servr]\n", "[servr]"),
    ('[mp]\ntoken = "abc"\n', "QINGFENG_MP_TOKEN"),
    ("[sandbox]\nenabled = false\n", "no channel is enabled"),
    ("[server\n", "TOML"),
])
def test_cli_config_check_refuses_a_broken_file_in_one_line(tmp_path, text, named):
    path = write(tmp_path, text, "broken.toml")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]


def test_cli_config_check_with_a_missing_file(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "config", "check"])
    assert result.exit_code != 0
    assert "nope.toml" in result.stderr and "not found" in result.stderr


def test_cli_bad_environment_boolean(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(write(tmp_path, "")), "config", "check"],
                                env={"QINGFENG_SANDBOX_ENABLED": "maybe"})
    assert result.exit_code != 0
    assert "QINGFENG_SANDBOX_ENABLED" in result.stderr


def test_real_process_config_check_has_no_traceback(tmp_path):
    path = write(tmp_path, '[server]\nport = "x"\n', "broken.toml")
    env = {name: value for name, value in os.environ.items() if not name.startswith("QINGFENG_")}
    done = subprocess.run([sys.executable, "-m", "bot", "--config", str(path), "config", "check"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "server.port" in lines[0] and "broken.toml" in lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize("keep", [0, -3])
def test_backup_keep_below_one_is_refused_in_one_line(keep):
    message = config_error({"sandbox": {"enabled": True}, "backup": {"keep": keep}})
    assert "backup.keep" in message and str(keep) in message


def test_backup_keep_from_the_environment_is_checked_too():
    assert "backup.keep" in config_error({"sandbox": {"enabled": True}},
                                         env={"QINGFENG_BACKUP_KEEP": "0"})


def test_mp_mode_defaults_and_mismatches(tmp_path):
    base = '[mp]\nenabled = true\napp_id = "wx1"\n'
    token = {"QINGFENG_MP_TOKEN": "t"}
    keyed = {**token, "QINGFENG_MP_ENCODING_AES_KEY": "k" * 43}
    assert load_config(write(tmp_path, base), env=keyed).get("mp.mode") == "safe"
    assert load_config(write(tmp_path, base), env=token).get("mp.mode") == "plain"
    with pytest.raises(ConfigError, match="mp.mode is safe but mp.encoding_aes_key is missing"):
        load_config(write(tmp_path, base + 'mode = "safe"\n'), env=token)
    with pytest.raises(ConfigError, match="mp.mode must be one of"):
        load_config(write(tmp_path, base + 'mode = "aes"\n'), env=keyed)
