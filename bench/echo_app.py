"""The anchor: the least a WeCom callback endpoint can do, with the stock wechatpy + Flask recipe.

It verifies msg_signature, decrypts, parses and answers the same text encrypted, and does
nothing else (no timestamp check, no store). Qingfeng's webhook should keep up with it while
doing the real work.

    python -m bench.echo_app --config CONFIG.toml --port 8091

serves it on gunicorn with exactly the options `python -m bot serve` uses for that config
(bot.server.gunicorn_options: workers, gthread, threads, keep-alive, access log), on another
port. Credentials come from the same environment variables as Qingfeng's:
QINGFENG_WECOM_TOKEN, QINGFENG_WECOM_ENCODING_AES_KEY and QINGFENG_WECOM_CORP_ID (or the
config's wecom.corp_id).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import create_reply

XML = "application/xml; charset=utf-8"


def create_echo_app(token: str, encoding_aes_key: str, corp_id: str) -> Flask:
    app = Flask("qingfeng_bench_echo")
    crypto = WeChatCrypto(token, encoding_aes_key, corp_id)

    @app.post("/wechat/wecom")
    def wecom() -> Response:
        signature = request.args.get("msg_signature", "")
        timestamp = request.args.get("timestamp", "")
        nonce = request.args.get("nonce", "")
        try:
            xml = crypto.decrypt_message(request.get_data(), signature, timestamp, nonce)
        except InvalidSignatureException:
            return Response("forbidden", status=403)
        message = parse_message(xml)
        reply = create_reply(getattr(message, "content", "") or "success", message)
        return Response(crypto.encrypt_message(reply.render(), nonce, timestamp), mimetype=XML)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok")

    return app


class EchoServer(BaseApplication):  # type: ignore[misc]  (gunicorn ships no type hints)
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


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
    app = create_echo_app(wecom["token"], wecom["encoding_aes_key"],
                          os.environ.get("QINGFENG_WECOM_CORP_ID") or wecom["corp_id"])
    EchoServer(app, options).run()


if __name__ == "__main__":
    main()
