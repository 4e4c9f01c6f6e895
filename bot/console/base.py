"""The console's frame: the blueprint, the one decorator every page uses, who is logged in,
branch scoping, CSRF, the navigation, error pages.

Every console view is registered through `route(...)`, which checks the session (logged in, not
idle, not ended by a password change or disable) and the role before the view runs; a view
registered on `bp` any other way is refused by `_guard` (fail closed).

Status codes: a form shown again with its problem explained (a wrong password, a roster with bad
rows, a schedule that cannot be made, a preview's reason) is a normal 200 page, because Chromium
logs every 4xx as a console error and the pages must raise none; refusals (400 CSRF, 403 another
branch, 404) keep their codes.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from bot.services import Services
from bot.store import admins, audit

bp = Blueprint("console", __name__, url_prefix="/admin")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    admin_only: bool = False


# Every page of the console, in menu order. A page whose module has not landed yet is shown
# greyed out instead of breaking the menu (see `nav_items`).
NAV: tuple[NavItem, ...] = (
    NavItem("console.dashboard", "概览"),
    NavItem("console.members", "成员"),
    NavItem("console.tasks", "学习任务"),
    NavItem("console.meetings", "组织生活"),
    NavItem("console.content", "学习内容"),
    NavItem("console.schedules", "定时推送"),
    NavItem("console.reports", "报表"),
    NavItem("console.votes", "推荐评选"),
    NavItem("console.accounts", "账号", admin_only=True),
    NavItem("console.audit", "操作日志", admin_only=True),
)


# --- the services, the database, the clock ----------------------------------------------

def services() -> Services:
    return current_app.extensions["qingfeng"]


def db() -> sqlite_utils.Database:
    return services().store.db


def user() -> admins.Admin:
    """The logged-in account (only inside a `route` view)."""
    return g.console_user


def actor() -> str:
    return f"console:{user().name}"


def record(action: str, detail: Mapping[str, Any] | str) -> None:
    """Audit an action of the logged-in account (in the caller's transaction, if any); `detail`
    is the facts bot/audit_text.py puts in Chinese for the 操作日志 (add the action there)."""
    audit.record(db(), actor=actor(), action=action, detail=detail, at=services().clock.now())


# --- branch scoping ----------------------------------------------------------------------

def branch_scope() -> str | None:
    """None for an admin (every branch); the secretary's own branch otherwise. Every query of
    members, schedules, deliveries in a page filters with this."""
    account = user()
    return None if account.is_admin else account.branch


def require_branch(branch: str | None, what: str) -> None:
    """Refuse (403, audited) when a secretary reaches for another branch's `what`."""
    scope = branch_scope()
    if scope is not None and branch != scope:
        with services().store.transaction():
            record("denied", {"method": request.method, "path": request.path, "what": what,
                              "branch": branch})
        abort(403)


# --- redirect targets --------------------------------------------------------------------

def local_target(target: str | None, default: str) -> str:
    """`target` (a form's back=, the login's next=) when it is a path inside the console, else
    `default`. Never an open redirect to another site; browsers read "\\" as "/"; and a control
    character cannot go in a Location header (werkzeug raises: a 500). Views call this before
    any effect, so a bad target cannot fail a request after its write."""
    if target and target.startswith("/admin") and not urlsplit(target).netloc \
            and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return default


# --- the decorator -----------------------------------------------------------------------

def route(rule: str, *, methods: tuple[str, ...] = ("GET",), admin_only: bool = False,
          endpoint: str | None = None, max_bytes: int | None = None,
          session_readonly: bool = False,
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a console view that requires a login (and the admin role when `admin_only`).

    `max_bytes`: the largest request body this view accepts (an upload), instead of the app's
    64 KiB webhook limit; applied before the CSRF check reads the form.

    `session_readonly`: the view reads the session (who is logged in, the CSRF token) but its
    response never writes the cookie, not even the idle timer. For requests a page makes in the
    background (the schedule form's live preview): the session is one signed cookie, so a
    response that writes it puts back the whole session as it was when the request was sent;
    one still in flight while the form is submitted would bring back the 「已创建」 flash the
    next page had already shown (or undo anything else a request in between changed).
    """

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            account = g.get("console_user")
            if account is None:
                return _to_login()
            if admin_only and not account.is_admin:
                with services().store.transaction():
                    record("denied", {"method": request.method, "path": request.path,
                                      "need": "admin"})
                abort(403)
            return view(*args, **kwargs)

        guarded.console_guarded = True  # type: ignore[attr-defined]
        guarded.console_max_bytes = max_bytes  # type: ignore[attr-defined]
        guarded.console_admin_only = admin_only  # type: ignore[attr-defined]
        guarded.console_session_readonly = session_readonly  # type: ignore[attr-defined]
        bp.add_url_rule(rule, endpoint=endpoint or view.__name__, view_func=guarded,
                        methods=list(methods))
        return guarded

    return wrap


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that needs no login (the login page itself)."""
    view.console_guarded = True  # type: ignore[attr-defined]
    view.console_public = True  # type: ignore[attr-defined]
    return view


def _to_login() -> ResponseReturnValue:
    if request.method in SAFE_METHODS and not _wants_json():
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if _wants_json():
        return {"error": "请先登录"}, 401
    abort(401)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


# --- the session: who is logged in -------------------------------------------------------

def _settings() -> dict[str, Any]:
    return dict(services().config.section("console"))


def start_session(account: admins.Admin) -> None:
    """A fresh session for a login: nothing from before the login survives (no fixation)."""
    session.clear()
    session["uid"] = account.id
    session["sv"] = account.session_version
    session["seen"] = services().clock.timestamp()
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def _load_user(touch: bool = True) -> None:
    """Who is logged in. `touch`: restart the idle timer (and end a stale session) in the
    cookie; False for a session-read-only view, which only reads."""
    g.console_user = None
    uid = session.get("uid")
    if uid is None:
        return
    now = services().clock.timestamp()
    account = admins.by_id(db(), int(uid))
    idle = now - float(session.get("seen", 0)) > _settings()["idle_minutes"] * 60
    if account is None or not account.active or account.session_version != session.get("sv") \
            or idle:
        if touch:
            session.clear()
            if idle and account is not None:
                session["expired"] = True  # read once by the login page: "you were logged out"
        return
    if touch:
        session["seen"] = now
    g.console_user = account


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not getattr(view, "console_guarded", False):
        abort(404)  # fail closed: a console view that skipped `route` is not served
    if getattr(view, "console_max_bytes", None):
        request.max_content_length = view.console_max_bytes
    g.console_session_readonly = getattr(view, "console_session_readonly", False)
    _load_user(touch=not g.console_session_readonly)
    if g.console_user is None and not getattr(view, "console_public", False):
        return _to_login()  # before CSRF: a logged-out POST is told to log in, not "expired"
    if request.method not in SAFE_METHODS:
        _check_csrf()
    return None


# --- CSRF --------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's token (made on first use, also before login: the login form has one)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> None:
    expected = session.get(CSRF_FIELD) or ""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        abort(400, description="csrf")


# --- templates: the menu, the token, error pages -----------------------------------------

@bp.app_template_global()
def console_nav() -> list[dict[str, Any]]:
    account = g.get("console_user")
    items = []
    for item in NAV:
        if item.admin_only and (account is None or not account.is_admin):
            continue
        ready = item.endpoint in current_app.view_functions
        items.append({"label": item.label, "url": url_for(item.endpoint) if ready else None,
                      "active": request.endpoint == item.endpoint
                      or (request.endpoint or "").startswith(item.endpoint + "_")})
    return items


@bp.app_context_processor  # app-wide: the console 404 for unknown /admin URLs is outside bp
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_user": g.get("console_user"),
            "role_names": admins.ROLE_NAMES}


ERRORS = {
    400: ("请求无效", "提交的内容不完整或格式不对，请返回重试。"),
    401: ("请先登录", "登录已失效，请重新登录后再操作。"),
    403: ("无权访问", "您的账号没有权限查看或修改这项内容（支部书记只能管理本支部）。"),
    404: ("页面不存在", "找不到您要的页面或记录，它可能已被删除。"),
    405: ("操作方式不对", "这个地址不接受这种请求。"),
    413: ("文件太大", "上传的文件超过了大小限制。"),
}


def _error_page(error: Any) -> ResponseReturnValue:
    code = getattr(error, "code", 500) or 500
    title, text = ERRORS.get(code, ("出错了", "服务器处理请求时出错，请稍后重试。"))
    if code == 400 and getattr(error, "description", "") == "csrf":
        title, text = ("页面已过期", "安全校验未通过（页面可能已过期或来自其他网站）。"
                       "请刷新页面后重新提交。")
    if _wants_json():
        return {"error": f"{title}：{text}"}, code
    return render_template("console/error.html", title=title, text=text, code=code), code


for _code in ERRORS:
    bp.register_error_handler(_code, _error_page)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _not_found_anywhere(error: Any) -> ResponseReturnValue:
    """An unknown URL (or a GET of a POST-only one) matches no blueprint: under /admin it still
    gets the console's page; elsewhere (webhooks, /sim) the plain answer is kept."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        return _error_page(error)
    return error


# --- paging ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def pager(total: int, size: int = 50) -> Pager:
    """The page asked for in ?page= (a bad or too large number shows the nearest real page)."""
    try:
        asked = int(request.args.get("page", "1"))
    except ValueError:
        asked = 1
    last = max(1, -(-total // size))
    return Pager(page=min(max(asked, 1), last), size=size, total=total)


@bp.app_template_global()
def page_url(number: int) -> str:
    """This page's URL with its filters kept and ?page= set."""
    args = request.args.to_dict()
    args["page"] = str(number)
    return url_for(request.endpoint or "console.dashboard", **(request.view_args or {}), **args)
