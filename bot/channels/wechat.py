"""The real channels: a WeCom self-built app and an Official Account, through wechatpy 1.8.18.

Both are built with `auto_retry=False` (wechatpy otherwise refreshes and retries without bound
on 40001) and with the token fetch replaced: wechatpy hard-codes the real token URLs and fetches
without a timeout. On a token error an adapter refreshes once through the shared storage and
retries once; anything else is an Outcome for the ledger.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException

from bot.channels import (
    IP_NOT_WHITELISTED,
    RETRYABLE_ERRCODES,
    TOKEN_ERRCODES,
    Outcome,
    Outgoing,
    retry_after_for,
)
from bot.channels.tokens import (
    QUOTA_COOLDOWN_S,
    SQLiteSessionStorage,
    TokenQuotaSpent,
    app_of,
    http_get_json,
    raise_ip_alert,
    refresh_token,
)
from bot.clock import Clock

log = logging.getLogger(__name__)
SEND_TIMEOUT_S = 5.0
DUPLICATE_CHECK_S = 4 * 3600  # WeCom's longest: a retry after a crash cannot double a send
PER_MEMBER_PER_MINUTE = 25    # under WeCom's 30, whose excess is dropped silently


class _Failure(Exception):
    def __init__(self, errcode: int | None, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.message = message
        self.retry_after = retry_after  # overrides the errcode's usual wait


def _describe(exc: WeChatClientException) -> str:
    """The ledger's reason: the errcode and message, or the HTTP status of a 5xx."""
    if exc.errcode is None:  # wechatpy's wrapper for an HTTP error status
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"HTTP {status}" if status else "network: no answer"
    return f"errcode {exc.errcode}: {exc.errmsg}"


def _token_sent(exc: WeChatClientException) -> str | None:
    """The access token the refused request carried (not whatever is stored by now)."""
    url = getattr(getattr(exc, "request", None), "url", None) or ""
    values = parse_qs(urlsplit(url).query).get("access_token")
    return values[0] if values else None


def _call(client: Any, storage: SQLiteSessionStorage, fetch: Callable[[], dict],
          send: Callable[[], dict]) -> dict:
    """One platform call; on a token error, one refresh and one retry. Raises _Failure."""
    for attempt in (1, 2):
        try:
            return send()
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRCODES and attempt == 1:
                stale = _token_sent(exc) or storage.get(client.access_token_key)
                try:
                    refresh_token(storage, client.access_token_key, fetch, stale=stale)
                except TokenQuotaSpent as token_exc:
                    raise _Failure(exc.errcode, f"token refresh failed: {token_exc}",
                                   QUOTA_COOLDOWN_S) from None
                except (TimeoutError, RuntimeError, requests.RequestException) as token_exc:
                    raise _Failure(exc.errcode, f"token refresh failed: {token_exc}") from None
                continue
            if exc.errcode == IP_NOT_WHITELISTED:
                raise_ip_alert(storage, app_of(client.access_token_key), exc.errmsg or "")
            raise _Failure(exc.errcode, _describe(exc)) from None
        except TokenQuotaSpent as exc:
            raise _Failure(None, f"no access token: {exc}", QUOTA_COOLDOWN_S) from None
        except (TimeoutError, RuntimeError) as exc:
            raise _Failure(None, f"no access token: {exc}") from None
        except requests.RequestException as exc:
            raise _Failure(None, f"network: {type(exc).__name__}") from None
    raise AssertionError("unreachable")


def _outcome_for(delivery_id: int, failure: _Failure) -> Outcome:
    if failure.retry_after is not None:
        return Outcome(delivery_id, "retry", failure.message, failure.retry_after)
    if failure.errcode is None or failure.errcode in RETRYABLE_ERRCODES:
        return Outcome(delivery_id, "retry", failure.message, retry_after_for(failure.errcode))
    if failure.errcode in TOKEN_ERRCODES:
        return Outcome(delivery_id, "retry", failure.message, 60.0)
    if failure.errcode == IP_NOT_WHITELISTED:  # retried slowly: an operator may fix the list
        return Outcome(delivery_id, "retry", failure.message, QUOTA_COOLDOWN_S)
    return Outcome(delivery_id, "failed", failure.message)


class WeComChannel:
    name = "wecom"
    batch_size = 1000  # message/send takes up to 1,000 userids

    def __init__(self, settings: Mapping[str, Any], storage: SQLiteSessionStorage,
                 clock: Clock) -> None:
        self.agent_id = settings["agent_id"]
        self.base = settings["api_base_url"]
        self.storage = storage
        self.clock = clock
        self.client = WeComClient(settings["corp_id"], settings["secret"], session=storage,
                                  timeout=SEND_TIMEOUT_S, auto_retry=False)
        self.client.API_BASE_URL = self.base
        self.client.fetch_access_token = self._fetch_into_storage
        self._recent: dict[str, deque[float]] = defaultdict(deque)

    def _fetch(self) -> dict:
        return http_get_json(self.base + "gettoken", {"corpid": self.client.corp_id,
                                                      "corpsecret": self.client.secret})

    def _fetch_into_storage(self) -> None:
        refresh_token(self.storage, self.client.access_token_key, self._fetch)

    def send(self, batch: list[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        by_text: dict[str, list[Outgoing]] = defaultdict(list)
        # Messages to one member admitted earlier in this batch count too: a batch may carry
        # several broadcasts for the same member.
        admitted: dict[str, int] = defaultdict(int)
        for item in batch:
            wait = self._throttle_wait(item.external_id, admitted[item.external_id])
            admitted[item.external_id] += 0 if wait else 1
            if wait:
                outcomes.append(Outcome(item.delivery_id, "retry", "per-member throttle", wait,
                                        throttled=True))
            else:
                by_text[item.text].append(item)
        for text, items in by_text.items():
            outcomes.extend(self._send_same_text(text, items))
        return outcomes

    def _send_same_text(self, text: str, items: list[Outgoing]) -> list[Outcome]:
        msg = {"msgtype": "text", "text": {"content": text}, "safe": 0,
               "enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_S}
        userids = [item.external_id for item in items]
        try:
            result = _call(self.client, self.storage, self._fetch,
                           lambda: self.client.message.send(self.agent_id, userids, msg=msg))
        except _Failure as failure:
            if failure.errcode == 81013:  # every recipient invalid
                return [Outcome(i.delivery_id, "undeliverable", failure.message, deactivate=True)
                        for i in items]
            return [_outcome_for(item.delivery_id, failure) for item in items]
        invalid = {u.lower() for u in (result.get("invaliduser") or "").split("|") if u}
        outcomes = []
        for item in items:
            if item.external_id.lower() in invalid:
                outcomes.append(Outcome(item.delivery_id, "undeliverable",
                                        "invaliduser: not in the app's visible range",
                                        deactivate=True))
            else:
                self._recent[item.external_id].append(self.clock.timestamp())
                outcomes.append(Outcome(item.delivery_id, "sent"))
        return outcomes

    def _throttle_wait(self, userid: str, admitted: int = 0) -> float:
        now = self.clock.timestamp()
        recent = self._recent[userid]
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) + admitted < PER_MEMBER_PER_MINUTE:
            return 0.0
        # The earliest send that leaves the window; a whole minute when this batch filled it.
        return 60 - (now - recent[0]) if len(recent) >= PER_MEMBER_PER_MINUTE else 60.0


class OfficialAccountChannel:
    """Customer-service messages go one member per call; a batch's calls run on a few threads
    at once (the time is spent waiting for the platform). The ledger records a batch after all
    of its calls: a crash in between can repeat up to `batch_size` messages (this platform has
    no dedupe key for them), so the batch stays small."""

    name = "mp"
    batch_size = 8
    concurrency = 4  # calls in flight at once: well under the platform's concurrency limit (45033)

    def __init__(self, settings: Mapping[str, Any], storage: SQLiteSessionStorage) -> None:
        self.base = settings["api_base_url"]
        self.template_id = settings["template_id"]
        self.storage = storage
        self.client = WeChatClient(settings["app_id"], settings["app_secret"], session=storage,
                                   timeout=SEND_TIMEOUT_S, auto_retry=False)
        self.client.API_BASE_URL = self.base
        self.client.fetch_access_token = self._fetch_into_storage
        self._pool: ThreadPoolExecutor | None = None

    def _fetch(self) -> dict:
        return http_get_json(self.base + "token", {"grant_type": "client_credential",
                                                   "appid": self.client.appid,
                                                   "secret": self.client.secret})

    def _fetch_into_storage(self) -> None:
        refresh_token(self.storage, self.client.access_token_key, self._fetch)

    def send(self, batch: list[Outgoing]) -> list[Outcome]:
        if len(batch) == 1 or self.concurrency <= 1:
            return [self._send_one(item) for item in batch]
        if self._pool is None:
            # Threads that live as long as the channel: each keeps its own SQLite connection
            # (for the shared token), so they must not be made afresh for every batch.
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="mp-send")
        return list(self._pool.map(self._send_one, batch))

    def _send_one(self, item: Outgoing) -> Outcome:
        try:
            _call(self.client, self.storage, self._fetch,
                  lambda: self.client.message.send_text(item.external_id, item.text))
            return Outcome(item.delivery_id, "sent")
        except _Failure as failure:
            if failure.errcode in (45015, 45047):  # outside the 48 h window, or its quota
                return self._send_template(item, failure)
            if failure.errcode == 43004:
                return Outcome(item.delivery_id, "undeliverable", "unsubscribed (43004)",
                               deactivate=True)
            return _outcome_for(item.delivery_id, failure)

    def _send_template(self, item: Outgoing, why: _Failure) -> Outcome:
        if not self.template_id:
            return Outcome(item.delivery_id, "undeliverable",
                           f"outside the 48 h window and no template configured ({why.message})")
        data = {"touser": item.external_id, "template_id": self.template_id,
                "client_msg_id": item.key[:64],  # the platform drops a repeated id
                "data": {"content": {"value": item.text}}}
        try:
            _call(self.client, self.storage, self._fetch,
                  lambda: self.client.post("message/template/send", data=data))
            return Outcome(item.delivery_id, "sent")
        except _Failure as failure:
            if failure.errcode == 43004:
                return Outcome(item.delivery_id, "undeliverable", "unsubscribed (43004)",
                               deactivate=True)
            return _outcome_for(item.delivery_id, failure)


