"""A fake WeChat Official Account / WeCom API server, for tests and for local trial deployments.

Real HTTP on 127.0.0.1, threaded, with the real paths under /cgi-bin/ and the real JSON shapes,
so our clients (and wechatpy with its API_BASE_URL pointed here) talk to it unchanged. Every call
is recorded; `delivered` lists what actually reached a recipient and is the source of truth for
"exactly once" tests. Faults (errcodes, HTTP 500, timeouts, dropped connections) can be injected
per endpoint or at random; a fault never delivers, except the opt-in "lost_answer" kind.

    with FakeWeChatAPI(clock=ManualClock()) as api:
        api.fail_next("message/custom/send", errcode=45009)   # or "500", "timeout", "drop"
        ...  # point the client under test at api.base_url, with DEFAULT_APPID / DEFAULT_SECRET
        assert [d.to for d in api.delivered] == ["openid-1"]

Manual use: `python -m tests.fakeapi --port 9100` (see `--help`).

Errcodes chosen where the brief left a choice (from the WeCom global errcode list):
  - more than 1,000 userids in `touser`: 40032 "invalid userid list size";
    more than 100 parties / tags: 82002 / 82003.
  - all of touser, toparty and totag empty: 40058 (invalid parameter); all given but invalid: 81013.
  - group robot: unknown key 93000, content too long or unsupported msgtype 40058.
  - token quota (2,000 fetches a day per app by the fake's clock): 45009 on the token URL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_APPID = "wxfake0000000001"
DEFAULT_SECRET = "fake-mp-secret"
DEFAULT_CORPID = "wwfake0000000001"
DEFAULT_CORPSECRET = "fake-wecom-secret"

API_PREFIX = "/cgi-bin/"
# Endpoints that fail_rate() may break; token fetches stay reliable so faults hit the sends.
MESSAGE_PATHS = frozenset(
    {"message/custom/send", "message/template/send", "message/send", "webhook/send"}
)
# Fault kinds that are not an errcode. 500 means HTTP 500 (no real errcode is 500).
TRANSPORT_KINDS = frozenset({"500", "timeout", "drop", "lost_answer"})
DEFAULT_RATE_KINDS = ("45009", "-1", "500", "timeout", "drop")

WECOM_MAX_USERS = 1000
WECOM_MAX_PARTIES_OR_TAGS = 100
WECOM_TEXT_MAX_BYTES = 2048  # the real API truncates longer text, it does not refuse it
WECOM_DUP_INTERVAL_DEFAULT_S = 1800
WECOM_DUP_INTERVAL_MAX_S = 4 * 3600
ROBOT_TEXT_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
TEMPLATE_DEDUPE_WINDOW_S = 600  # client_msg_id is documented as effective for 10 minutes

ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40032: "invalid userid list size",
    40037: "invalid template_id",
    40056: "invalid agentid",
    40058: "invalid parameter",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41011: "missing agentid",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    44004: "empty content",
    45009: "api freq out of limit",
    45011: "api minute-quota reach limit",
    45015: "response out of time limit or subscription is canceled",
    45033: "api concurrent out of limit",
    45047: "out of response count limit",
    47001: "data format error",
    81013: "user & party & tag all invalid",
    82002: "invalid party list size",
    82003: "invalid tag list size",
    93000: "invalid webhook url",
}


def err(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    """An errcode answer with the real errmsg where the fake knows it."""
    return {"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "fake fault")}


OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}


class ManualClock:
    """A settable clock for the fake (`api.clock = ManualClock()`), so tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Call:
    """One request as the fake saw it; `answer` is None for HTTP 500 and dropped connections."""

    path: str
    params: dict[str, str]
    body: dict[str, Any] | None
    at: float
    answer: dict[str, Any] | None = None
    fault: str | None = None
    method: str = "GET"
    status: int | None = None  # HTTP status sent, None while pending or when dropped


@dataclass(frozen=True)
class Delivered:
    """One recipient that actually received a message (3 valid WeCom users = 3 entries)."""

    channel: str  # "mp_custom" | "mp_template" | "wecom" | "robot"
    to: str  # openid, userid ("party:ID" / "tag:ID" / "@all" for WeCom groups), or robot key
    content: str
    msgid: int | str | None
    body: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass
class _Token:
    value: str
    kind: str  # "mp" | "wecom"
    owner: str  # appid, or "corpid/corpsecret": each WeCom app secret has its own token
    issued_at: float
    ttl: int
    superseded_at: float | None = None
    expired: bool = False


@dataclass
class _Fault:
    kind: str
    delay_s: float | None = None


@dataclass
class _FaultRule:
    suffix: str
    kind: str
    remaining: int
    delay_s: float | None


@dataclass
class _FaultRate:
    share: float
    kinds: tuple[str, ...]
    delay_s: float | None


@dataclass
class _Reply:
    status: int = 200
    answer: dict[str, Any] | None = None
    drop: bool = False
    late_s: float = 0.0  # wait this long before answering (the "timeout" fault)


def _matches(path: str, suffix: str) -> bool:
    """Suffix match on whole path segments: "token" matches /cgi-bin/token, not .../gettoken."""
    suffix = suffix.strip("/")
    return path.strip("/") == suffix or path.endswith("/" + suffix)


def normalize_kind(kind: int | str) -> str:
    """A fault kind as stored in Call.fault: an errcode as text, or one of TRANSPORT_KINDS."""
    text = str(kind).strip()
    if text in TRANSPORT_KINDS:
        return text
    try:
        int(text)
    except ValueError:
        raise ValueError(f"unknown fault kind {kind!r}: an errcode or one of "
                         f"{sorted(TRANSPORT_KINDS)}") from None
    return text


def _split_ids(value: Any) -> list[str]:
    """'a|b| c' -> ['a', 'b', 'c'], case-insensitively deduplicated like the real API."""
    seen: set[str] = set()
    out: list[str] = []
    for part in str(value or "").split("|"):
        item = part.strip()
        if item and item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _content_of(body: Mapping[str, Any]) -> str:
    """The human-readable part of a message body, for Delivered.content."""
    msgtype = str(body.get("msgtype") or "")
    section = body.get(msgtype)
    if isinstance(section, Mapping):
        if "content" in section:
            return str(section["content"])
        if msgtype == "textcard":
            return f"{section.get('title', '')}\n{section.get('description', '')}"
    return json.dumps(section, ensure_ascii=False, sort_keys=True)


def _template_content(data: Any) -> str:
    """Template data {"first": {"value": "x"}} as "first: x" lines, in the order sent."""
    if not isinstance(data, Mapping):
        return ""
    lines = []
    for key, item in data.items():
        value = item.get("value", "") if isinstance(item, Mapping) else item
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


class FakeWeChatAPI:
    """The fake server and its control API. Thread-safe; a context manager that starts/stops it.

    reset() restores everything to how the constructor left it, except the port and `clock`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mp_apps: Mapping[str, str] | None = None,
        wecom_apps: Iterable[tuple[str, str]] | None = None,
        token_ttl_s: int = 7200,
        token_overlap_s: float = 0.0,
        token_daily_quota: int | None = 2000,
        robot_per_minute: int = 20,
        timeout_delay_s: float = 10.0,
        clock: Callable[[], float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.clock: Callable[[], float] = clock or time.time
        self.log = log
        self._config = {
            "mp_apps": dict(mp_apps or {DEFAULT_APPID: DEFAULT_SECRET}),
            "wecom_apps": set(wecom_apps or {(DEFAULT_CORPID, DEFAULT_CORPSECRET)}),
            "token_ttl_s": token_ttl_s,
            "token_overlap_s": token_overlap_s,
            "token_daily_quota": token_daily_quota,
            "robot_per_minute": robot_per_minute,
            "timeout_delay_s": timeout_delay_s,
        }
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        cfg = self._config
        with self._lock:
            # Settings: plain attributes, read at the time of each call.
            self.mp_apps: dict[str, str] = dict(cfg["mp_apps"])
            self.wecom_apps: set[tuple[str, str]] = set(cfg["wecom_apps"])
            self.token_ttl_s: int = cfg["token_ttl_s"]
            self.token_overlap_s: float = cfg["token_overlap_s"]
            self.token_daily_quota: int | None = cfg["token_daily_quota"]
            self.robot_per_minute: int = cfg["robot_per_minute"]
            self.timeout_delay_s: float = cfg["timeout_delay_s"]
            self.valid_wecom_users: set[str] | None = None  # None: every userid is valid
            self.valid_robot_keys: set[str] | None = None  # None: every key is valid
            self.delay_s = 0.0
            # Recorded traffic.
            self._calls: list[Call] = []
            self._delivered: list[Delivered] = []
            self._duplicates: list[Delivered] = []
            # Platform state.
            self._tokens: dict[str, _Token] = {}
            self._current_token: dict[tuple[str, str], _Token] = {}
            self._token_fetch_counts: dict[tuple[str, int], int] = {}
            self._closed_windows: set[str] = set()
            self._unsubscribed: set[str] = set()
            self._robot_sends: dict[str, deque[float]] = {}
            self._template_ids: dict[tuple[str, str, str], tuple[float, int]] = {}
            self._wecom_recent: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
            self._msgid = 1_000_000_000
            self.menus: dict[str, dict[str, Any]] = {}  # "mp:<appid>" / "wecom:<agentid>"
            # Faults.
            self._fault_rules: list[_FaultRule] = []
            self._fault_rate: _FaultRate | None = None
            self._rng = random.Random(0)
            self._in_flight = 0
            self.max_in_flight = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWeChatAPI:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits at most this long
            name=f"fakeapi:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes delayed answers, which then drop their connection
        server.shutdown()
        server.close_connections()  # idle keep-alive connections would keep threads reading
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> FakeWeChatAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    # ---- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def delivered(self) -> list[Delivered]:
        with self._lock:
            return list(self._delivered)

    @property
    def duplicates(self) -> list[Delivered]:
        """Sends the platform suppressed as repeats (template client_msg_id, WeCom dup check)."""
        with self._lock:
            return list(self._duplicates)

    def calls_to(self, path_suffix: str) -> list[Call]:
        return [c for c in self.calls if _matches(c.path, path_suffix)]

    def token_fetches(self) -> int:
        return len(self.calls_to("token")) + len(self.calls_to("gettoken"))

    def delivered_to(self, to: str, channel: str | None = None) -> list[Delivered]:
        return [d for d in self.delivered if d.to == to and channel in (None, d.channel)]

    # ---- control ---------------------------------------------------------------------------

    def fail_next(
        self,
        path_suffix: str,
        errcode: int | str = -1,
        times: int = 1,
        delay_s: float | None = None,
    ) -> None:
        """The next `times` calls to that endpoint fail. `errcode` is an errcode, or one of
        "500" (HTTP 500), "timeout" (answer -1 after delay_s), "drop", "lost_answer"."""
        rule = _FaultRule(path_suffix.strip("/"), normalize_kind(errcode), times, delay_s)
        with self._lock:
            self._fault_rules.append(rule)

    def fail_rate(
        self,
        share: float = 0.3,
        kinds: Iterable[int | str] = DEFAULT_RATE_KINDS,
        seed: int | None = 1,
        delay_s: float | None = None,
    ) -> None:
        """A `share` of calls to MESSAGE_PATHS fail with a kind drawn from `kinds` (seeded).
        fail_rate(0) turns it off. Add "lost_answer" to kinds to include it."""
        kind_list = tuple(normalize_kind(k) for k in kinds)
        with self._lock:
            self._rng = random.Random(seed)
            active = share > 0 and bool(kind_list)
            self._fault_rate = _FaultRate(share, kind_list, delay_s) if active else None

    def set_delay(self, seconds: float) -> None:
        """Delay every answer. The delay comes before processing, so a send still takes effect
        after a client gave up waiting, as on the real platform."""
        with self._lock:
            self.delay_s = max(0.0, seconds)

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.expired = True

    def window_closed(self, openid: str) -> None:
        """Customer-service sends to this openid answer 45015 (outside the 48 h window)."""
        with self._lock:
            self._closed_windows.add(openid)

    def window_open(self, openid: str) -> None:
        with self._lock:
            self._closed_windows.discard(openid)

    def unsubscribed(self, openid: str) -> None:
        """Template and customer-service sends to this openid answer 43004."""
        with self._lock:
            self._unsubscribed.add(openid)

    def subscribed(self, openid: str) -> None:
        with self._lock:
            self._unsubscribed.discard(openid)

    def reset(self) -> None:
        self._init_state()

    # ---- request pipeline (called by the HTTP handler threads) -----------------------------

    def _enter(self) -> None:
        """Count requests being handled at once (`max_in_flight`: how concurrent a client is)."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handle(self, method: str, path: str, params: dict[str, str], raw: bytes) -> _Reply:
        body, bad_json = self._parse_body(raw)
        with self._lock:
            call = Call(path, params, body, self.clock(), method=method)
            self._calls.append(call)
            fault = self._pick_fault(path)
            call.fault = fault.kind if fault else None
            delay = self.delay_s
        if delay and self._stopping.wait(delay):
            return _Reply(drop=True)  # stopped while waiting: never act after stop()
        with self._lock:
            reply = self._answer(call, fault, bad_json)
            call.answer = reply.answer
            call.status = None if reply.drop else reply.status
        if self.log is not None:
            self.log(f"{method} {path} fault={call.fault} -> {reply.status} {reply.answer}")
        return reply

    @staticmethod
    def _parse_body(raw: bytes) -> tuple[dict[str, Any] | None, bool]:
        if not raw:
            return None, False
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, True
        return (body, False) if isinstance(body, dict) else (None, True)

    def _pick_fault(self, path: str) -> _Fault | None:
        for rule in self._fault_rules:
            if _matches(path, rule.suffix):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._fault_rules.remove(rule)
                return _Fault(rule.kind, rule.delay_s)
        rate = self._fault_rate
        rel = path.removeprefix(API_PREFIX)
        if rate and rel in MESSAGE_PATHS and self._rng.random() < rate.share:
            return _Fault(self._rng.choice(rate.kinds), rate.delay_s)
        return None

    def _answer(self, call: Call, fault: _Fault | None, bad_json: bool) -> _Reply:
        if fault is None:
            status, answer = self._dispatch(call, bad_json)
            return _Reply(status, answer)
        if fault.kind == "500":
            return _Reply(500)
        if fault.kind == "drop":
            return _Reply(drop=True)
        if fault.kind == "timeout":
            late = fault.delay_s if fault.delay_s is not None else self.timeout_delay_s
            return _Reply(200, err(-1), late_s=late)
        if fault.kind == "lost_answer":
            # The one fault that acts: the send happens, the answer never arrives.
            _status, answer = self._dispatch(call, bad_json)
            return _Reply(answer=answer, drop=True)
        return _Reply(200, err(int(fault.kind)))

    def _dispatch(self, call: Call, bad_json: bool) -> tuple[int, dict[str, Any]]:
        routes: dict[str, tuple[str, Callable[[Call], dict[str, Any]]]] = {
            "token": ("GET", self._on_mp_token),
            "gettoken": ("GET", self._on_wecom_token),
            "message/custom/send": ("POST", self._on_mp_custom),
            "message/template/send": ("POST", self._on_mp_template),
            "message/send": ("POST", self._on_wecom_send),
            "webhook/send": ("POST", self._on_robot),
            "menu/create": ("POST", self._on_menu),
        }
        route = routes.get(call.path.removeprefix(API_PREFIX)) if call.path.startswith(
            API_PREFIX) else None
        if route is None:
            return 404, err(-1, f"fake: no endpoint {call.path}")
        method, handler = route
        if call.method != method:
            return 200, err(43001 if method == "GET" else 43002)
        if method == "POST" and (bad_json or call.body is None):
            return 200, err(47001)
        return 200, handler(call)

    # ---- tokens ----------------------------------------------------------------------------

    def _on_mp_token(self, call: Call) -> dict[str, Any]:
        appid = call.params.get("appid", "")
        if appid not in self.mp_apps:
            return err(40013)
        if call.params.get("secret") != self.mp_apps[appid]:
            return err(40001, "invalid credential")
        return self._issue_token("mp", appid, reuse=False)

    def _on_wecom_token(self, call: Call) -> dict[str, Any]:
        corpid = call.params.get("corpid", "")
        secret = call.params.get("corpsecret", "")
        if corpid not in {c for c, _ in self.wecom_apps}:
            return err(40013, "invalid corpid")
        if (corpid, secret) not in self.wecom_apps:
            return err(40001, "invalid credential")
        # WeCom hands back the same token while it is valid instead of superseding it.
        return self._issue_token("wecom", f"{corpid}/{secret}", reuse=True)

    def _issue_token(self, kind: str, owner: str, reuse: bool) -> dict[str, Any]:
        now = self.clock()
        day_key = (f"{kind}:{owner}", int(now // 86400))
        fetched = self._token_fetch_counts.get(day_key, 0)
        if self.token_daily_quota is not None and fetched >= self.token_daily_quota:
            return err(45009, "reach max api daily quota limit")
        self._token_fetch_counts[day_key] = fetched + 1
        # WeCom's answer carries errcode 0; the Official Account's has no errcode at all.
        head = dict(OK) if kind == "wecom" else {}
        current = self._current_token.get((kind, owner))
        if reuse and current is not None and self._token_error(current, now) == 0:
            return {**head, "access_token": current.value, "expires_in": current.ttl}
        if current is not None and current.superseded_at is None:
            current.superseded_at = now
        value = f"FAKE_{kind.upper()}_{len(self._tokens) + 1:06d}_{secrets.token_hex(12)}"
        token = _Token(value, kind, owner, now, self.token_ttl_s)
        self._tokens[value] = token
        self._current_token[(kind, owner)] = token
        return {**head, "access_token": value, "expires_in": token.ttl}

    def _token_error(self, token: _Token, now: float) -> int:
        if token.expired or now - token.issued_at >= token.ttl:
            return 42001
        if token.superseded_at is not None and now >= token.superseded_at + self.token_overlap_s:
            return 40001  # "access_token is invalid or not latest"
        return 0

    def _auth(self, call: Call, kind: str) -> tuple[_Token | None, dict[str, Any] | None]:
        value = call.params.get("access_token")
        if not value:
            return None, err(41001)
        token = self._tokens.get(value)
        if token is None or token.kind != kind:
            return None, err(40014)
        code = self._token_error(token, call.at)
        return (token, None) if code == 0 else (None, err(code))

    # ---- Official Account ------------------------------------------------------------------

    def _on_mp_custom(self, call: Call) -> dict[str, Any]:
        _token, error = self._auth(call, "mp")
        if error:
            return error
        body = call.body or {}
        touser = str(body.get("touser") or "")
        if not touser:
            return err(40003)
        if not body.get("msgtype"):
            return err(40008)
        if touser in self._unsubscribed:
            return err(43004)
        if touser in self._closed_windows:
            return err(45015)
        self._deliver("mp_custom", touser, _content_of(body), None, body)
        return dict(OK)

    def _on_mp_template(self, call: Call) -> dict[str, Any]:
        token, error = self._auth(call, "mp")
        if error or token is None:
            return error or err(40014)
        body = call.body or {}
        touser = str(body.get("touser") or "")
        if not touser:
            return err(40003)
        if not body.get("template_id"):
            return err(40037)
        if touser in self._unsubscribed:
            return err(43004)
        content = _template_content(body.get("data"))
        client_msg_id = str(body.get("client_msg_id") or "")
        key = (token.owner, touser, client_msg_id)
        if client_msg_id and key in self._template_ids:
            first_at, msgid = self._template_ids[key]
            if call.at - first_at < TEMPLATE_DEDUPE_WINDOW_S:
                self._duplicates.append(Delivered("mp_template", touser, content, msgid, body))
                return {**OK, "msgid": msgid}
        msgid = self._next_msgid()
        if client_msg_id:
            self._template_ids[key] = (call.at, msgid)
        self._deliver("mp_template", touser, content, msgid, body)
        return {**OK, "msgid": msgid}

    # ---- WeCom app -------------------------------------------------------------------------

    def _on_wecom_send(self, call: Call) -> dict[str, Any]:
        token, error = self._auth(call, "wecom")
        if error or token is None:
            return error or err(40014)
        body = call.body or {}
        problem = self._wecom_body_problem(body)
        if problem:
            return problem
        users = _split_ids(body.get("touser"))
        parties = _split_ids(body.get("toparty"))
        tags = _split_ids(body.get("totag"))
        if len(users) > WECOM_MAX_USERS:
            return err(40032)
        if len(parties) > WECOM_MAX_PARTIES_OR_TAGS:
            return err(82002)
        if len(tags) > WECOM_MAX_PARTIES_OR_TAGS:
            return err(82003)
        if not (users or parties or tags):
            return err(40058, "invalid parameter: touser, toparty and totag are all empty")
        dup_key = self._wecom_dup_key(token, body)
        if dup_key is not None:
            earlier = self._wecom_recent.get(dup_key)
            if earlier is not None and call.at < earlier[0]:
                for target in self._wecom_targets(users, parties, tags)[0]:
                    self._duplicates.append(
                        Delivered("wecom", target, _content_of(body), earlier[1]["msgid"], body))
                return dict(earlier[1])
        targets, invalid = self._wecom_targets(users, parties, tags)
        invaliduser = "|".join(invalid)
        if not targets:
            return {**err(81013), "invaliduser": invaliduser}
        msgid = f"fake-wecom-{self._next_msgid()}"
        content = _content_of(body)
        if body.get("msgtype") == "text":
            content = _truncate_utf8(content, WECOM_TEXT_MAX_BYTES)
        for target in targets:
            self._deliver("wecom", target, content, msgid, body)
        answer = {**OK, "invaliduser": invaliduser, "msgid": msgid}
        if dup_key is not None:
            self._wecom_recent[dup_key] = (call.at + self._dup_interval(body), answer)
        return dict(answer)

    @staticmethod
    def _wecom_body_problem(body: Mapping[str, Any]) -> dict[str, Any] | None:
        agentid = body.get("agentid")
        if agentid in (None, ""):
            return err(41011)
        try:
            int(agentid)
        except (TypeError, ValueError):
            return err(40056)
        msgtype = body.get("msgtype")
        if not msgtype or not isinstance(body.get(msgtype), Mapping):
            return err(40008)
        if msgtype == "text" and not str(body["text"].get("content") or ""):
            return err(44004)
        return None

    def _wecom_targets(
        self, users: list[str], parties: list[str], tags: list[str]
    ) -> tuple[list[str], list[str]]:
        """(recipients to deliver to, invalid userids lower-cased as the real API answers)."""
        valid = None if self.valid_wecom_users is None else {
            u.lower() for u in self.valid_wecom_users}
        targets: list[str] = []
        invalid: list[str] = []
        for user in users:
            if user == "@all":
                targets.extend(["@all"] if valid is None else sorted(valid))
            elif valid is None or user.lower() in valid:
                targets.append(user)
            else:
                invalid.append(user.lower())
        # The fake has no directory of parties and tags: every one is taken as valid.
        targets += [f"party:{p}" for p in parties] + [f"tag:{t}" for t in tags]
        return targets, invalid

    @staticmethod
    def _dup_interval(body: Mapping[str, Any]) -> int:
        try:
            interval = int(body.get("duplicate_check_interval") or WECOM_DUP_INTERVAL_DEFAULT_S)
        except (TypeError, ValueError):
            interval = WECOM_DUP_INTERVAL_DEFAULT_S
        return max(0, min(interval, WECOM_DUP_INTERVAL_MAX_S))

    @staticmethod
    def _wecom_dup_key(token: _Token, body: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Same app, recipients and content = a repeat, when the sender asked for the check."""
        if str(body.get("enable_duplicate_check") or "0") != "1":
            return None
        msgtype = str(body.get("msgtype"))
        return (
            token.owner,
            str(body.get("agentid")),
            str(body.get("touser") or ""),
            str(body.get("toparty") or ""),
            str(body.get("totag") or ""),
            msgtype,
            json.dumps(body.get(msgtype), ensure_ascii=False, sort_keys=True),
        )

    # ---- WeCom group robot -----------------------------------------------------------------

    def _on_robot(self, call: Call) -> dict[str, Any]:
        key = call.params.get("key", "")
        if not key or (self.valid_robot_keys is not None and key not in self.valid_robot_keys):
            return err(93000)
        body = call.body or {}
        msgtype = body.get("msgtype")
        limits = {"text": ROBOT_TEXT_MAX_BYTES, "markdown": ROBOT_MARKDOWN_MAX_BYTES}
        section = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in limits or not isinstance(section, Mapping):
            return err(40058, f"invalid parameter: msgtype {msgtype!r} is not supported")
        content = str(section.get("content") or "")
        if not content:
            return err(44004)
        if _utf8_len(content) > limits[msgtype]:
            return err(40058, f"{msgtype}.content exceed max length {limits[msgtype]}")
        sent = self._robot_sends.setdefault(key, deque())
        while sent and sent[0] <= call.at - 60:
            sent.popleft()  # a sliding one-minute window on the fake's clock
        if len(sent) >= self.robot_per_minute:
            return err(45009)
        sent.append(call.at)
        self._deliver("robot", key, content, None, body)
        return dict(OK)

    # ---- helpers ---------------------------------------------------------------------------

    # ---- custom menu -----------------------------------------------------------------------

    def _on_menu(self, call: Call) -> dict[str, Any]:
        """menu/create on either platform (WeCom's carries agentid), with the button limits."""
        kind = "wecom" if "agentid" in call.params else "mp"
        token, error = self._auth(call, kind)
        if error or token is None:
            return error or err(40014)
        buttons = (call.body or {}).get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return err(40016)  # invalid button size
        for button in buttons:
            subs = button.get("sub_button")
            if subs is not None and not 1 <= len(subs) <= 5:
                return err(40016)
            for item, limit in [(button, 16)] + [(sub, 60) for sub in subs or []]:
                if not 0 < _utf8_len(str(item.get("name", ""))) <= limit:
                    return err(40018)  # invalid button name size
                if subs is None or item is not button:
                    if item.get("type") != "click":
                        return err(40017)  # invalid button type
                    if not item.get("key"):
                        return err(40019)  # invalid button key size
        owner = call.params["agentid"] if kind == "wecom" else token.owner
        with self._lock:
            self.menus[f"{kind}:{owner}"] = call.body or {}
        return dict(OK)

    def _next_msgid(self) -> int:
        self._msgid += 1
        return self._msgid

    def _deliver(
        self, channel: str, to: str, content: str, msgid: int | str | None, body: dict[str, Any]
    ) -> None:
        self._delivered.append(Delivered(channel, to, content, msgid, body))
        if self.log is not None:
            self.log(f"DELIVERED {channel} -> {to}: {content[:80]!r}")

    def _state_json(self) -> dict[str, Any]:
        """What GET /_fake/state shows, for poking at a manual run."""
        with self._lock:
            return {
                "calls": len(self._calls),
                "token_fetches": self.token_fetches(),
                "delivered": [
                    {"channel": d.channel, "to": d.to, "content": d.content, "msgid": d.msgid}
                    for d in self._delivered
                ],
            }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], api: FakeWeChatAPI) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup: the fake stays off the network.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or vanish are part of the game, not server errors.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use it
    server: _Server
    timeout = 60  # an idle keep-alive connection does not pin a thread forever
    # Headers and body in one segment, sent at once: split writes meet delayed ACKs (~40 ms).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the api records calls; stderr noise would only hide test output

    def do_GET(self) -> None:
        if self.path.startswith("/_fake/state"):
            self._write(200, self.server.api._state_json())
            return
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        # Read the whole body even when dropping: closing on unread data sends an RST instead.
        raw = self.rfile.read(length) if length else b""
        api = self.server.api
        api._enter()
        try:
            reply = api._handle(method, url.path, params, raw)
            if reply.late_s and api._stopping.wait(reply.late_s):
                reply = _Reply(drop=True)
        finally:
            api._leave()
        if reply.drop:
            self.close_connection = True  # the socket closes with no answer at all
            return
        if reply.answer is None:
            self._write_raw(reply.status, b"Internal Server Error", "text/plain")
            return
        self._write(reply.status, reply.answer)

    def _write(self, status: int, answer: Mapping[str, Any]) -> None:
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self._write_raw(status, payload, "application/json; charset=utf-8")

    def _write_raw(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timeout) and closed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakeapi", description="Fake WeChat / WeCom API server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--corpid", default=DEFAULT_CORPID)
    parser.add_argument("--corpsecret", default=DEFAULT_CORPSECRET)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of sends that fail")
    parser.add_argument("--fail-kinds", default=",".join(DEFAULT_RATE_KINDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0, help="delay every answer (s)")
    parser.add_argument("--quiet", action="store_true", help="do not log calls and deliveries")
    args = parser.parse_args(argv)

    api = FakeWeChatAPI(
        args.host,
        args.port,
        mp_apps={args.appid: args.secret},
        wecom_apps={(args.corpid, args.corpsecret)},
        log=None if args.quiet else (lambda line: print(line, flush=True)),
    )
    if args.fail_rate:
        api.fail_rate(args.fail_rate, args.fail_kinds.split(","), seed=args.seed)
    api.set_delay(args.delay)
    with api:
        print(f"fake WeChat/WeCom API on {api.base_url}", flush=True)
        print(f"  OA appid={args.appid} secret={args.secret}", flush=True)
        print(f"  WeCom corpid={args.corpid} corpsecret={args.corpsecret}", flush=True)
        print(f"  state: http://{api.host}:{api.port}/_fake/state", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
