"""The files in deploy/ agree with each other and with the code: the systemd units start the
service with the production config, the nginx site sends HTTPS traffic to the port that config
serves on and hides /metrics, and the production config itself loads."""

from __future__ import annotations

import configparser
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from bot import create_app
from bot.cli import cli
from bot.config import SECRET_KEYS, env_name_for, load_config
from tests.paths import ROOT

DEPLOY = ROOT / "deploy"
SECRETS = {env_name_for(section, key): "x" * 43 for section, key in SECRET_KEYS}


def unit(name: str) -> configparser.ConfigParser:
    # systemd allows repeated keys (several Environment= lines); none of ours repeat one.
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def production_config():  # noqa: ANN201
    return load_config(DEPLOY / "config.production.toml", env=SECRETS)


def command(line: str) -> tuple[list[str], str, list[str]]:
    """An Exec line as (interpreter and module, the --config path, the subcommand)."""
    words = shlex.split(line)
    assert words[1:3] == ["-m", "bot"] and words[3] == "--config", line
    return words[:3], words[4], words[5:]


# --- systemd -------------------------------------------------------------------------------


def test_the_service_unit_runs_init_then_serve_with_the_production_config():
    service = unit("qingfeng.service")["Service"]
    python, config_path, start = command(service["ExecStart"])
    assert start == ["serve"]
    pre_python, pre_config, pre = command(service["ExecStartPre"])
    assert pre == ["init", "--no-demo"]  # a live roster never gets demo members
    assert python == pre_python and python[0] == f"{service['WorkingDirectory']}/.venv/bin/python"
    assert config_path == pre_config == "/etc/qingfeng/config.toml"
    assert service["User"] != "root" and service["EnvironmentFile"] == "/etc/qingfeng/secrets.env"
    assert service["KillSignal"] == "SIGTERM"  # gunicorn's graceful stop
    assert service["Restart"] == "on-failure"
    assert unit("qingfeng.service")["Install"]["WantedBy"] == "multi-user.target"


def test_the_unit_lets_the_service_write_where_the_config_stores_data():
    config = production_config()
    service = unit("qingfeng.service")["Service"]
    assert service["ProtectSystem"] == "strict"
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    for path in (config.store_path, config.backup_dir):
        assert any(path.is_relative_to(root) for root in writable), path
    assert Path(service["WorkingDirectory"]) in config.content_path.parents


def test_the_backup_timer_runs_backup_create_nightly():
    timer = unit("qingfeng-backup.timer")["Timer"]
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", timer["OnCalendar"])
    assert timer["Persistent"] == "true"
    backup = unit("qingfeng-backup.service")["Service"]
    assert backup["Type"] == "oneshot"
    _python, config_path, args = command(backup["ExecStart"])
    assert config_path == "/etc/qingfeng/config.toml" and args == ["backup", "create"]
    assert backup["User"] == unit("qingfeng.service")["Service"]["User"]
    assert any(production_config().backup_dir.is_relative_to(p)
               for p in backup["ReadWritePaths"].split())


@pytest.mark.parametrize("name", ["qingfeng.service", "qingfeng-backup.service"])
def test_every_command_in_the_units_exists(name):
    for key in ("ExecStartPre", "ExecStart"):
        line = unit(name)["Service"].get(key)
        if line:
            _python, _config, args = command(line)
            found: click.Command | None = cli
            for word in [a for a in args if not a.startswith("-")]:
                assert isinstance(found, click.Group), (name, args)
                found = found.get_command(click.Context(cli), word)
                assert found is not None, (name, args)
            options = {o for param in found.params for o in getattr(param, "opts", ())}
            assert {a for a in args if a.startswith("-")} <= options, (name, args)


# --- the production config -----------------------------------------------------------------


def test_the_production_config_loads_and_is_ready_for_a_live_server():
    config = production_config()  # load_config also refuses a secret written in the file
    assert config.get("sandbox.enabled") is False
    assert config.get("mp.enabled") or config.get("wecom.enabled")
    assert config.get("server.host") == "127.0.0.1"  # only nginx faces the network
    assert config.get("console.trust_proxy") is True
    assert config.get("server.public_url").startswith("https://")


def test_the_secrets_example_names_every_secret_and_only_secrets():
    text = (DEPLOY / "secrets.env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*(QINGFENG_[A-Z_]+)=", text, flags=re.M))
    assert named == set(SECRETS)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert name in SECRETS and ("change-me" in value or value == "")


# --- nginx ---------------------------------------------------------------------------------


@dataclass
class Block:
    args: list[str]
    directives: list[tuple[str, list[str]]] = field(default_factory=list)
    children: list[tuple[str, Block]] = field(default_factory=list)

    def values(self, name: str) -> list[list[str]]:
        return [args for directive, args in self.directives if directive == name]

    def value(self, name: str) -> list[str]:
        [args] = self.values(name)
        return args

    def blocks(self, name: str) -> list[Block]:
        return [block for directive, block in self.children if directive == name]


def parse_nginx(text: str) -> Block:
    """nginx's syntax: `name args;` and `name args { ... }`, # comments, quoted strings."""
    tokens = re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};"\']+', re.sub(r"#[^\n]*", "", text))
    root = Block([])
    stack, words = [root], []
    for token in tokens:
        if token == ";":
            stack[-1].directives.append((words[0], words[1:]))
            words = []
        elif token == "{":
            block = Block(words[1:])
            stack[-1].children.append((words[0], block))
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token.strip("\"'"))
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def servers() -> tuple[Block, Block]:
    site = parse_nginx((DEPLOY / "nginx-qingfeng.conf").read_text(encoding="utf-8"))
    plain, secure = site.blocks("server")
    return plain, secure


def location(server: Block, *args: str) -> Block:
    [found] = [block for block in server.blocks("location") if block.args == list(args)]
    return found


def test_plain_http_only_redirects_to_https():
    plain, _secure = servers()
    assert ["80"] in plain.values("listen")
    assert location(plain, "/").value("return") == ["301", "https://$host$request_uri"]


def test_https_proxies_to_the_port_the_service_listens_on():
    _plain, secure = servers()
    assert ["443", "ssl"] in secure.values("listen")
    assert secure.value("ssl_certificate") and secure.value("ssl_certificate_key")
    assert "TLSv1" not in secure.value("ssl_protocols")
    config = production_config()
    root = location(secure, "/")
    assert root.value("proxy_pass") == [f"http://{config.get('server.host')}:{config.get('server.port')}"]
    headers = {args[0]: args[1] for args in root.values("proxy_set_header")}
    # The console trusts these two (console.trust_proxy); /metrics refuses forwarded requests.
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["Host"] == "$host"


def test_server_names_agree_with_the_public_url():
    plain, secure = servers()
    host = production_config().get("server.public_url").removeprefix("https://").strip("/")
    assert plain.value("server_name") == secure.value("server_name") == [host]


def test_metrics_are_not_served_to_the_outside():
    _plain, secure = servers()
    assert location(secure, "=", "/metrics").value("return") == ["404"]


def test_nginx_logs_paths_without_query_strings():
    # A callback's query holds its signature, nonce and the member's openid (issue 11).
    site = parse_nginx((DEPLOY / "nginx-qingfeng.conf").read_text(encoding="utf-8"))
    formats = {args[0]: "".join(args[1:]) for args in site.values("log_format")}
    for server in servers():
        [(_path, name)] = server.values("access_log")
        assert "$uri" in formats[name] and "$status" in formats[name]
        for variable in ("$request ", "$request\"", "$request_uri", "$args", "$query_string",
                         "$arg_", "$http_referer"):
            assert variable not in formats[name] + " ", variable


def test_uploads_the_app_accepts_fit_through_nginx():
    _plain, secure = servers()
    size = secure.value("client_max_body_size")[0]
    number, unit_ = int(size[:-1]), size[-1].lower()
    limit = number * {"k": 1024, "m": 1024 * 1024}[unit_]
    app = create_app({"store": {"path": ":memory:"}, "sandbox": {"enabled": True}})
    assert limit >= app.config["MAX_CONTENT_LENGTH"]


def test_the_nginx_parser_rejects_what_nginx_would():
    with pytest.raises(AssertionError):
        parse_nginx("server { listen 80;")
    with pytest.raises(AssertionError):
        parse_nginx("server { listen 80 }")
