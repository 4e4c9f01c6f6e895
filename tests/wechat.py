"""Build callbacks the way WeChat and WeCom send them: signed, and encrypted where they are."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.crypto import PrpCrypto

from bot.wire import sign


@dataclass(frozen=True)
class Platform:
    token: str
    encoding_aes_key: str
    receive_id: str  # appid or corpid

    def encrypt(self, xml: str) -> str:
        key = base64.b64decode(self.encoding_aes_key + "=")
        return PrpCrypto(key).encrypt(xml, self.receive_id).decode()

    def decrypt(self, encrypted: str) -> str:
        key = base64.b64decode(self.encoding_aes_key + "=")
        return PrpCrypto(key).decrypt(encrypted, self.receive_id)


def text_xml(sender: str, content: str, msg_id: int, created: int | None = None,
             to: str = "gh_qingfeng") -> str:
    created = created or int(time.time())
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(sender: str, event: str, created: int | None = None, event_key: str = "") -> str:
    created = created or int(time.time())
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{event_key}]]></EventKey></xml>")


def media_xml(sender: str, kind: str, msg_id: int, created: int | None = None) -> str:
    created = created or int(time.time())
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"<MediaId><![CDATA[media]]></MediaId><MsgId>{msg_id}</MsgId></xml>")


def plain_query(platform: Platform, timestamp: int | None = None, **extra: str) -> str:
    """The query string of an Official Account plaintext-mode callback."""
    ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
    params = {"signature": sign(platform.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "openid": "o", **extra}
    return urlencode(params)


def encrypted_request(platform: Platform, inner_xml: str, timestamp: int | None = None,
                      compatible: bool = False) -> tuple[str, str]:
    """(query string, body) of a safe-mode (or compatible-mode) encrypted callback."""
    ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
    encrypted = platform.encrypt(inner_xml)
    params = {"signature": sign(platform.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "encrypt_type": "aes", "msg_signature": sign(platform.token, ts, nonce, encrypted)}
    body = f"<xml><ToUserName><![CDATA[{platform.receive_id}]]></ToUserName>"
    if compatible:
        body += inner_xml.removeprefix("<xml>").removesuffix("</xml>")
    body += f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return urlencode(params), body


def wecom_request(platform: Platform, inner_xml: str, timestamp: int | None = None) -> tuple[str, str]:
    """(query string, body) of a WeCom app callback (always encrypted)."""
    ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
    encrypted = platform.encrypt(inner_xml)
    params = {"msg_signature": sign(platform.token, ts, nonce, encrypted), "timestamp": ts,
              "nonce": nonce}
    body = (f"<xml><ToUserName><![CDATA[{platform.receive_id}]]></ToUserName>"
            f"<AgentID>1000002</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    return urlencode(params), body


def reply_text(platform: Platform, body: str) -> str:
    """The Content of an encrypted passive reply (decrypts and checks its signature)."""
    from bot.wire import check_signature, parse_xml

    outer = parse_xml(body)
    check_signature(outer["MsgSignature"], platform.token, outer["TimeStamp"], outer["Nonce"],
                    outer["Encrypt"])
    return parse_xml(platform.decrypt(outer["Encrypt"]))["Content"]
