"""Access tokens shared by every process through SQLite.

WeChat invalidates the previous token when a new one is fetched, so processes that each fetch
their own keep knocking each other out (40001/42001). Here all of them read one stored token,
and only one refreshes at a time: a short-lived lock row in kv, taken in a quick transaction so
the HTTP fetch never holds SQLite's write lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from wechatpy.session import SessionStorage

from bot.clock import Clock
from bot.store import Store, alerts, kv

log = logging.getLogger(__name__)
REFRESH_LOCK_S = 10.0
EARLY_EXPIRY_S = 300  # refresh five minutes before the platform's expiry
TOKEN_FETCH_TIMEOUT_S = 5.0
QUOTA_COOLDOWN_S = 600.0  # after a 45009 on the token URL, no process asks again for this long
FAILURES_BEFORE_ALERT = 3  # consecutive failed fetches (any process) before an operator is told


class TokenQuotaSpent(RuntimeError):
    """45009 on the token URL: the day's 2,000 fetches are gone. Never retry in a loop."""


class TokenFetchFailed(RuntimeError):
    """The token endpoint could not be reached or answered with an HTTP error."""


class SQLiteSessionStorage(SessionStorage):
    """wechatpy's SessionStorage on the kv table, with expiry (`ttl` seconds)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def get(self, key: str, default: Any = None) -> Any:
        value = kv.get(self.store.db, f"session:{key}", self.clock.timestamp())
        return default if value is None else json.loads(value)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        expires = self.clock.timestamp() + ttl if ttl else None
        with self.store.transaction() as db:
            kv.put(db, f"session:{key}", json.dumps(value), expires)

    def delete(self, key: str) -> None:
        with self.store.transaction() as db:
            kv.delete(db, f"session:{key}")


def refresh_token(storage: SQLiteSessionStorage, key: str, fetch: Callable[[], dict],
                  *, stale: str | None = None, wait_s: float = REFRESH_LOCK_S) -> str:
    """Return a valid token, fetching at most once across all processes.

    `stale` is the token a call was just refused with: if another process has already stored a
    different one, use it instead of fetching again.
    """
    deadline = time.monotonic() + wait_s
    lock = f"lock:{key}"
    while True:
        current = storage.get(key)
        if current and current != stale:
            return current
        _check_quota(storage, key)
        if _take_lock(storage, lock):
            try:
                current = storage.get(key)
                if current and current != stale:
                    return current
                _check_quota(storage, key)
                return _fetch_counting_failures(storage, key, fetch)
            finally:
                with storage.store.transaction() as db:
                    kv.delete(db, lock)
        if time.monotonic() > deadline:
            raise TimeoutError(f"another process held the token refresh lock for {key}")
        time.sleep(0.1)  # another process is fetching: it will store the token shortly


def _take_lock(storage: SQLiteSessionStorage, lock: str) -> bool:
    now = storage.clock.timestamp()
    with storage.store.transaction() as db:
        if kv.get(db, lock, now) is not None:
            return False
        kv.put(db, lock, "1", now + REFRESH_LOCK_S)
        return True


def _check_quota(storage: SQLiteSessionStorage, key: str) -> None:
    """Refuse to fetch while a recent 45009 on the token URL says the quota is spent: one
    process found out, every process holds back (and the alert is raised once)."""
    if kv.get(storage.store.db, f"quota:{key}", storage.clock.timestamp()) is not None:
        raise TokenQuotaSpent(f"token quota spent for {key} (not asking again for a while)")


def app_of(key: str) -> str:
    """The app id behind wechatpy's storage key, for alerts: "<appid>_access_token", or for
    WeCom "<corpid>_<first 10 characters of the secret>_access_token" (never shown)."""
    return key.partition("_")[0]


def _fetch_counting_failures(storage: SQLiteSessionStorage, key: str,
                             fetch: Callable[[], dict]) -> str:
    """Fetch; count consecutive failures across processes and alert at FAILURES_BEFORE_ALERT.
    The quota has its own alert and is not counted here."""
    counter = f"token-failures:{key}"
    try:
        token = _fetch_and_store(storage, key, fetch)
    except TokenQuotaSpent:
        raise
    except (RuntimeError, requests.RequestException) as exc:
        with storage.store.transaction() as db:
            failures = int(kv.get(db, counter, storage.clock.timestamp()) or 0) + 1
            kv.put(db, counter, str(failures), None)
            if failures >= FAILURES_BEFORE_ALERT:
                alerts.raise_alert(db, kind="token_refresh", channel=app_of(key),
                                   detail=f"应用 {app_of(key)} 连续 {failures} 次获取"
                                          f"平台调用凭证失败，最近一次：{exc}",
                                   at=storage.clock.now())
        raise
    with storage.store.transaction() as db:
        kv.delete(db, counter)
    return token


def _fetch_and_store(storage: SQLiteSessionStorage, key: str, fetch: Callable[[], dict]) -> str:
    result = fetch()
    errcode = result.get("errcode", 0)
    if errcode == 45009:
        with storage.store.transaction() as db:
            kv.put(db, f"quota:{key}", "45009", storage.clock.timestamp() + QUOTA_COOLDOWN_S)
            alerts.raise_alert(db, kind="token_quota", channel=app_of(key),
                               detail=f"应用 {app_of(key)} 今日获取平台调用凭证的次数已用完"
                                      "（45009），暂停获取；请检查是否有其他程序在重复获取",
                               at=storage.clock.now())
        raise TokenQuotaSpent(f"token quota spent for {key}")
    if errcode == 40164:
        raise_ip_alert(storage, app_of(key), result.get("errmsg", ""))
    if errcode or "access_token" not in result:
        raise RuntimeError(f"token fetch refused: errcode {errcode} {result.get('errmsg', '')}")
    ttl = max(60, int(result.get("expires_in", 7200)) - EARLY_EXPIRY_S)
    storage.set(key, result["access_token"], ttl)
    return result["access_token"]


def http_get_json(url: str, params: dict[str, str]) -> dict:
    """GET a token endpoint with a bounded timeout (wechatpy's own fetch has none)."""
    try:
        response = requests.get(url, params=params, timeout=TOKEN_FETCH_TIMEOUT_S)
        response.raise_for_status()
        return response.json()
    except requests.HTTPError as exc:
        raise TokenFetchFailed(f"token fetch failed: HTTP {exc.response.status_code}") from None
    except (requests.RequestException, ValueError) as exc:  # ValueError: not JSON
        raise TokenFetchFailed(f"token fetch failed: {type(exc).__name__}") from None


def raise_ip_alert(storage: SQLiteSessionStorage, app: str, errmsg: str) -> None:
    """40164: the platform refuses our server's IP. Only an operator can fix the whitelist."""
    alerts.raise_in(storage.store, kind="ip_whitelist", channel=app,
                    detail=f"平台拒绝了本服务器的 IP（40164 {errmsg}）：请把服务器公网 IP"
                           f"加入应用 {app} 的 IP 白名单（公众号）或企业可信 IP（企业微信）",
                    at=storage.clock.now())
