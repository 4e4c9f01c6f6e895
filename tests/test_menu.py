"""The custom menu: every button answers like its words, the body fits the platforms' limits,
and `menu push` sets it on the fake Official Account and WeCom APIs over real HTTP, with one
token refresh on a stale token and clear failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import menu
from bot.cli import cli
from handlers.events import MENU_KEYS
from tests.fakeapi import DEFAULT_APPID, FakeWeChatAPI
from tests.test_channels import AGENT_ID, fake_api, mp_section, wecom_section


@pytest.fixture
def api(clock) -> FakeWeChatAPI:  # noqa: ANN001
    with fake_api(clock) as server:
        yield server


def config_file(tmp_path: Path, api: FakeWeChatAPI, *, mp: bool = True, wecom: bool = True,
                ) -> tuple[Path, dict[str, str]]:
    """A config for the fake API; the secrets go in the environment, as in production."""
    lines = [f'[store]\npath = "{tmp_path / "q.db"}"\n[sandbox]\nenabled = false\n']
    env = {}
    if mp:
        section = mp_section(api)
        lines.append(f'[mp]\nenabled = true\napp_id = "{section["app_id"]}"\n'
                     f'api_base_url = "{section["api_base_url"]}"\n')
        env |= {"QINGFENG_MP_TOKEN": "t", "QINGFENG_MP_APP_SECRET": section["app_secret"]}
    if wecom:
        section = wecom_section(api)
        lines.append(f'[wecom]\nenabled = true\ncorp_id = "{section["corp_id"]}"\n'
                     f'agent_id = {section["agent_id"]}\n'
                     f'api_base_url = "{section["api_base_url"]}"\n')
        env |= {"QINGFENG_WECOM_TOKEN": "t", "QINGFENG_WECOM_ENCODING_AES_KEY": "a" * 43,
                "QINGFENG_WECOM_SECRET": section["secret"]}
    if not mp and not wecom:
        lines[0] = lines[0].replace("enabled = false", "enabled = true")
    path = tmp_path / "config.toml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, env


def run(path: Path, env: dict[str, str], *args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, ["--config", str(path), "menu", *args], env=env)


def test_every_button_is_a_key_the_bot_answers():
    data = menu.menu_data()
    keys = [sub["key"] for button in data["button"]
            for sub in button.get("sub_button", [button])]
    assert sorted(keys) == sorted(MENU_KEYS)  # every key on the menu, each once
    assert len(data["button"]) <= menu.MAX_TOP


def test_a_layout_the_platform_would_refuse_is_caught_here(monkeypatch):
    monkeypatch.setattr(menu, "LAYOUT", (("学习任务与打卡", (("打卡", "CHECKIN"),)),))
    with pytest.raises(ValueError, match="16 bytes"):
        menu.menu_data()
    monkeypatch.setattr(menu, "LAYOUT", (("学习", (("没有", "NO_SUCH_KEY"), ("打卡", "CHECKIN"))),))
    with pytest.raises(ValueError, match="NO_SUCH_KEY"):
        menu.menu_data()
    monkeypatch.setattr(menu, "LAYOUT", tuple(("学", (("打卡", "CHECKIN"),)) for _ in range(4)))
    with pytest.raises(ValueError, match="at most 3"):
        menu.menu_data()


def test_show_prints_the_json():
    result = CliRunner().invoke(cli, ["menu", "show"])
    assert result.exit_code == 0
    assert json.loads(result.output) == menu.menu_data()


def test_push_sets_the_menu_on_both_platforms(tmp_path, api):
    path, env = config_file(tmp_path, api)
    result = run(path, env, "push")
    assert result.exit_code == 0, result.output
    assert "公众号：菜单已设置" in result.output and "企业微信应用：菜单已设置" in result.output
    assert api.menus == {f"mp:{DEFAULT_APPID}": menu.menu_data(),
                         f"wecom:{AGENT_ID}": menu.menu_data()}


def test_push_refreshes_a_stale_token_once(tmp_path, api):
    path, env = config_file(tmp_path, api, wecom=False)
    assert run(path, env, "push").exit_code == 0
    fetches = api.token_fetches()
    api.expire_tokens()
    result = run(path, env, "push", "--channel", "mp")
    assert result.exit_code == 0, result.output
    assert api.token_fetches() == fetches + 1


def test_a_refusal_is_reported_with_its_errcode(tmp_path, api):
    path, env = config_file(tmp_path, api, wecom=False)
    api.fail_next("menu/create", 40164)
    result = run(path, env, "push")
    assert result.exit_code == 1
    assert "设置菜单失败" in result.output and "40164" in result.output
    assert api.menus == {}


def test_a_channel_that_is_not_set_up_is_named(tmp_path, api):
    path, env = config_file(tmp_path, api, wecom=False)
    result = run(path, env, "push", "--channel", "wecom")
    assert result.exit_code == 1 and "企业微信应用：未启用或缺少 secret" in result.output
    sandbox_only, env = config_file(tmp_path, api, mp=False, wecom=False)
    result = run(sandbox_only, env, "push")
    assert result.exit_code == 1 and "没有可用的渠道" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("data, errcode", [
    ({"button": [{"type": "click", "name": "学", "key": "HELP"}] * 4}, "40016"),
    ({"button": [{"type": "click", "name": "学习任务和每日打卡", "key": "HELP"}]}, "40018"),
    ({"button": [{"name": "学习", "sub_button": [{"type": "click", "name": "帮助"}]}]}, "40019"),
])
def test_the_fake_platform_refuses_what_the_real_one_would(make_services, api, data, errcode):
    from bot.channels.menu import MenuPushFailed, push
    from bot.delivery import build_channels

    services = make_services(demo=False, mp=mp_section(api))
    with pytest.raises(MenuPushFailed, match=errcode):
        push(build_channels(services)["mp"], data)
    assert api.menus == {}
