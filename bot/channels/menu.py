"""Setting the custom menu through the platform APIs, with the channels' shared tokens and
their bounded token refresh (one refresh, one retry, never a loop)."""

from __future__ import annotations

from typing import Any

from bot.channels.wechat import OfficialAccountChannel, WeComChannel, _call, _Failure


class MenuPushFailed(RuntimeError):
    """The platform refused the menu; the message carries its errcode."""


def push(channel: OfficialAccountChannel | WeComChannel, data: dict[str, Any]) -> None:
    client = channel.client
    if isinstance(channel, WeComChannel):
        def send() -> dict:
            return client.menu.create(channel.agent_id, data)
    else:
        def send() -> dict:
            return client.menu.create(data)
    try:
        _call(client, channel.storage, channel._fetch, send)
    except _Failure as exc:
        raise MenuPushFailed(exc.message) from None
