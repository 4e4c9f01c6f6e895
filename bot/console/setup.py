"""首次设置: the page behind the one-time link `serve` prints while no account exists
(bot/console/first_run.py has the rules). Public, CSRF-checked like every console POST;
404 once an account exists or when no link was issued."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.console import accounts, first_run
from bot.console.base import bp, db, public, services, start_session
from bot.console.passwords import MIN_LENGTH


def _form(error: str | None = None, name: str = "", token: str = "") -> ResponseReturnValue:
    """The form; after a refusal with what was typed (the token too, so a mistyped password
    does not send the secretary back to the terminal for the link)."""
    return render_template("console/setup.html", error=error, name=name, token=token,
                           min_length=MIN_LENGTH)


NO_LINK = ("还没有生成首次设置链接：请用 python -m bot serve（或 make run）启动服务，"
           "屏幕上会显示链接；也可以在服务器上运行 python -m bot admin create 姓名。")


def _gone() -> ResponseReturnValue:
    """404 with the reason: the setup is done, or no link was issued yet."""
    done = first_run.accounts_exist(db())
    text = first_run.ALREADY_SET_UP if done else NO_LINK
    return render_template("console/error.html", title="首次设置链接已失效" if done
                           else "首次设置尚未开始", text=text, code=404), 404


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup() -> ResponseReturnValue:
    clock = services().clock
    if not first_run.pending(db(), clock.timestamp()):
        return _gone()
    if request.method == "GET":
        return _form()
    form = request.form
    name, token = form.get("name", "").strip(), form.get("token", "").strip()
    try:
        account = first_run.create_first_admin(
            services().store, token=token, name=name,
            password=form.get("password", ""), again=form.get("again", ""),
            at=clock.now(), now=clock.timestamp())
    except (first_run.SetupRefused, accounts.AccountError) as exc:
        return _form(str(exc), name, token)
    start_session(account)
    flash(f"已创建管理员账号 {account.name}，并已登录。首次设置链接从此失效。", "ok")
    return redirect(url_for("console.dashboard"), 303)
