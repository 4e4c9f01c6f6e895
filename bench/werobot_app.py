"""The second anchor (issue 7): a minimal WeRoBot echo robot on gunicorn.

    python -m bench.werobot_app --config CONFIG.toml --port 8092

WeRoBot speaks the Official Account protocol, so this anchor gets safe-mode Official Account
callbacks (`signature` + `encrypt_type=aes` + `msg_signature`) of the same 打卡 text that
Qingfeng gets as WeCom callbacks: the same AES envelope and the same work (check the
signatures, decrypt, parse, answer encrypted), plus one more SHA-1 for the outer `signature`.
It answers every text with the text itself, and keeps no session (SESSION_STORAGE=False:
WeRoBot's default would write every message to a SQLite file of its own). It is served by
gunicorn with exactly the options `bot.server.gunicorn_options` gives Qingfeng, like the
wechatpy anchor (bench/echo_app.py). Credentials: QINGFENG_WECOM_TOKEN,
QINGFENG_WECOM_ENCODING_AES_KEY and the config's wecom.corp_id as the appid.
"""

from __future__ import annotations

import argparse
from typing import Any

from werobot import WeRoBot

from bench.echo_app import EchoServer


def create_robot(token: str, encoding_aes_key: str, app_id: str) -> WeRoBot:
    robot = WeRoBot(token=token, encoding_aes_key=encoding_aes_key, app_id=app_id,
                    SESSION_STORAGE=False)

    @robot.text
    def echo(message: Any) -> str:
        return message.content or "success"

    return robot


def main(argv: list[str] | None = None) -> None:
    from bot.config import load_config
    from bot.server import gunicorn_options

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="Qingfeng's config (for its gunicorn options)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    wecom = config.section("wecom")
    options = gunicorn_options(config)
    options["bind"] = f"{config.get('server.host')}:{args.port}"
    robot = create_robot(wecom["token"], wecom["encoding_aes_key"], wecom["corp_id"])
    EchoServer(robot.wsgi, options).run()  # healthz: any GET with a good signature; see webhook


if __name__ == "__main__":
    main()
