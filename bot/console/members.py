"""成员: the roster, a page at a time; import with a preview; bind codes; deactivate.

Import is two requests. The upload is checked row by row by bot/roster.py (nothing written)
and kept in var/uploads under a random name, its digest in the session; the confirm step
re-reads that very file, checks the digest and writes it all-or-nothing with roster.import_rows.
So what is written is exactly what was previewed, and a second tab cannot swap the file.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot import audience as audiences
from bot import roster
from bot.audit_text import member_facts
from bot.console.base import (
    actor,
    branch_scope,
    db,
    local_target,
    pager,
    record,
    require_branch,
    route,
    services,
)
from bot.store import members as store_members

PAGE_SIZE = 50
UPLOAD_KEY = "roster_upload"
STALE_UPLOAD_S = 24 * 3600
STATUSES = {"active": "在册", "inactive": "已停用", "all": "全部"}


def _filters() -> dict[str, str]:
    args = request.args
    scope = branch_scope()
    status = args.get("status", "active")
    return {"q": args.get("q", "").strip()[:32],
            "branch": scope or args.get("branch", "").strip(),
            "group": args.get("group", "").strip(),
            "status": status if status in STATUSES else "active"}


def _query(f: dict[str, str]) -> tuple[str, list[object]]:
    where, params = ["1 = 1"], []
    if f["q"]:
        where.append("name LIKE ? ESCAPE '\\'")
        params.append("%" + f["q"].replace("\\", "\\\\").replace("%", "\\%")
                      .replace("_", "\\_") + "%")
    # The group filter's value is "支部/党小组" (two branches may each have a 第一党小组); a bare
    # name, as older links hold, still means every group of that name.
    group_branch, group_name = audiences.split_group(f["group"])
    for column, value in (("branch", f["branch"]), ("branch", group_branch),
                          ("grp", group_name)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if f["status"] != "all":
        where.append("active = ?")
        params.append(int(f["status"] == "active"))
    return " AND ".join(where), params


@route("/members")
def members() -> ResponseReturnValue:
    f = _filters()
    where, params = _query(f)
    total = db().execute(f"SELECT count(*) FROM members WHERE {where}", params).fetchone()[0]
    page = pager(total, PAGE_SIZE)
    rows = list(db().query(
        "SELECT id, name, branch, grp, phone, role, active, demo, bind_code,"
        " party_joined_on, party_confirmed_on,"
        " (SELECT group_concat(channel, ' ') FROM identities i WHERE i.member_id = members.id"
        "  AND i.active = 1) AS channels"
        f" FROM members WHERE {where} ORDER BY branch, grp, name LIMIT ? OFFSET ?",
        [*params, page.size, page.offset]))
    scope = branch_scope()
    scope_sql, scope_params = (" WHERE branch = ?", [scope]) if scope else ("", [])
    branches = [r[0] for r in db().execute("SELECT DISTINCT branch FROM members ORDER BY branch")]
    groups = [(ref, audiences.group_label(ref)) for ref in (
        audiences.group_ref(b, g) for b, g in db().execute(
            f"SELECT DISTINCT branch, grp FROM members{scope_sql} ORDER BY branch, grp",
            scope_params) if g)]
    return render_template("console/members.html", rows=rows, pager=page, f=f, scope=scope,
                           branches=branches, groups=groups, statuses=STATUSES,
                           roles=store_members.ROLES)


def _member_or_404(member_id: int) -> store_members.Member:
    member = store_members.get_member(db(), member_id)
    if member is None:
        abort(404)
    require_branch(member.branch, f"成员 #{member_id}")
    return member


@route("/members/<int:member_id>/bind-code", methods=("POST",))
def members_bind_code(member_id: int) -> ResponseReturnValue:
    member = _member_or_404(member_id)
    back = _back()  # checked before the write: nothing may fail after it
    with services().store.transaction() as tx:
        code = store_members.new_bind_code(tx, member.id)
        record("member.bind-code", member_facts(member))
    flash(f"{member.name} 的新绑定码：{code}（旧码已作废）", "ok")
    return redirect(back, 303)


@route("/members/<int:member_id>/active", methods=("POST",))
def members_active(member_id: int) -> ResponseReturnValue:
    member = _member_or_404(member_id)
    active = request.form.get("active") == "1"
    back = _back()
    with services().store.transaction() as tx:
        tx.execute("UPDATE members SET active = ? WHERE id = ?", [int(active), member.id])
        record("member.reactivate" if active else "member.deactivate", member_facts(member))
    flash(f"已{'恢复' if active else '停用'} {member.name}", "ok")
    return redirect(back, 303)


def _back() -> str:
    return local_target(request.form.get("back"), url_for("console.members"))


# --- import --------------------------------------------------------------------------------

def _upload_dir() -> Path:
    return Path(services().store.path).resolve().parent / "uploads"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(path: Path) -> roster.RosterCheck:
    """roster.py's row checks, plus: a secretary's file may only name their own branch."""
    check = roster.check_rows(roster.read_table(path), services().store,
                               services().clock.today())
    scope = branch_scope()
    if scope is not None:
        for row in check.rows:
            if row.branch and row.branch != scope:
                check.errors.append(f"第 {row.line} 行：支部「{row.branch}」不是您管理的支部（{scope}）")
    return check


@route("/members/import")
def members_import() -> ResponseReturnValue:
    return _render(check=None, error=None, token=None,
                           filename=None)


@route("/members/import", methods=("POST",), max_bytes=roster.MAX_FILE_BYTES + 64 * 1024,
       endpoint="members_import_preview")
def members_import_preview() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_error("请选择一个 CSV 或 XLSX 文件")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt"):
        return _import_error(f"不支持的文件类型 {suffix or '(无扩展名)'}：请用 .csv 或 .xlsx")
    folder = _upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    token = secrets.token_urlsafe(16)
    path = folder / f"roster-{token}{suffix}"
    upload.save(path)
    try:
        check = _check(path)
    except roster.RosterError as exc:
        path.unlink(missing_ok=True)
        return _import_error(str(exc))
    if not check.ok:
        path.unlink(missing_ok=True)  # nothing to confirm: the file is not kept
        return _render(check=check, error=None,
                               token=None, filename=upload.filename)
    # Only a file that passed replaces the one held: a bad upload changes nothing, not even
    # the earlier preview another tab may still confirm (every input checked before any effect).
    _forget_upload()
    session[UPLOAD_KEY] = {"token": token, "file": path.name, "sha256": _digest(path),
                           "filename": upload.filename[:100]}
    return _render(check=check, error=None, token=token,
                           filename=upload.filename)


@route("/members/import/confirm", methods=("POST",))
def members_import_confirm() -> ResponseReturnValue:
    held = session.get(UPLOAD_KEY) or {}
    if not held or request.form.get("token") != held.get("token"):
        return _import_error("这次导入已失效（可能已经导入过，或在别的页面重新上传了文件），请重新上传")
    path = _upload_dir() / held["file"]
    if not path.is_file() or _digest(path) != held["sha256"]:
        _forget_upload()
        return _import_error("上传的文件已不存在或被改动，请重新上传")
    try:
        check = _check(path)  # again: the roster may have changed since the preview
        if not check.ok:
            return _render(check=check, error=None,
                                   token=None, filename=held["filename"])
        result = roster.import_rows(services().store, check, actor=actor(),
                                    now=services().clock.now())
    except roster.RosterError as exc:
        return _import_error(str(exc))
    finally:
        _forget_upload()
    flash(f"导入完成：{result.summary()}", "ok")
    return redirect(url_for("console.members"), 303)


def _sweep(folder: Path) -> None:
    """Delete uploads abandoned at the preview (never confirmed) more than a day ago. File ages
    are the file system's, so this compares with the real time, not the service clock."""
    cutoff = time.time() - STALE_UPLOAD_S
    for old in folder.glob("roster-*"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:
            continue  # another worker swept it first


def _forget_upload() -> None:
    held = session.pop(UPLOAD_KEY, None)
    if held and held.get("file"):
        (_upload_dir() / Path(held["file"]).name).unlink(missing_ok=True)


def _import_error(message: str) -> ResponseReturnValue:
    return _render(check=None, error=message, token=None,
                           filename=None)


def _render(*, check: roster.RosterCheck | None, error: str | None, token: str | None,
            filename: str | None) -> str:
    # Rows named in an error ("第 3 行：...") are highlighted in the preview table.
    bad = {int(m.group(1)) for e in (check.errors if check else [])
           if (m := re.match(r"第 (\d+) 行", e))}
    # What the confirm would change, said before it (「与现有名册相同，没有变化」 included).
    would = roster.plan(services().store, check).preview() if check and check.ok else None
    return render_template("console/members_import.html", check=check, error=error, token=token,
                           filename=filename, bad_lines=bad, would=would,
                           limits={"rows": f"{roster.MAX_ROWS:,}", "columns": roster.MAX_COLUMNS,
                                   "mb": roster.MAX_FILE_BYTES // 1024 // 1024})
