"""What a member sent (Inbound) and what we answer (Reply): the same for every channel."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Inbound:
    channel: str         # "mp" (Official Account), "wecom", or "sandbox"
    user: str            # the sender's id on that channel (openid, userid, sandbox id)
    kind: str            # "text", "event", "image", "voice", "video", "location", "link", ...
    text: str            # the message text ("" for non-text)
    dedupe_key: str      # MsgId, or sender + CreateTime for events
    at: datetime         # when the platform says it was sent
    event: str = ""      # for kind "event": "subscribe", "unsubscribe", "click", ...
    event_key: str = ""  # a menu click's key

    @property
    def normalised_text(self) -> str:
        return normalise(self.text)


@dataclass(frozen=True)
class Reply:
    text: str  # "" means no passive reply ("success")
    # What the dedupe record keeps for a redelivery, when the answer itself must not be
    # stored: a secret ballot's choices (bot/votes.py). None: the text.
    remember: str | None = None


NO_REPLY = Reply("")


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), trimmed, inner runs of white space folded to one."""
    folded = unicodedata.normalize("NFKC", text)
    return " ".join(folded.split())
