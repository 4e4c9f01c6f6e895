"""Content pages: the reading library (search, filter by source), one reading, importing a
regulation with a preview of its split, the integrity reminders' plan for a year, the quiz bank.

The library and the quiz are shared by every branch, so a branch secretary reads them but only
an admin imports: a regulation import changes what every member is pushed and finds.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import search
from bot.console import regulation_import as ri
from bot.console.base import db, record, route, services, user
from bot.regulations import MAX_FILE_BYTES, MAX_LINES
from bot.reminders import default_reminders, plan_year
from bot.store import quiz as store_quiz
from bot.store import readings as store_readings

PAGE_SIZE = 50
SEARCH_LIMIT = 200
MAX_QUERY = 50
WEEKDAYS = "一二三四五六日"
QUIZ_TYPES = {"single": "单选", "multiple": "多选", "judge": "判断"}


# --- the library -------------------------------------------------------------------------

@route("/content")
def content() -> ResponseReturnValue:
    query = " ".join(request.args.get("q", "").split())[:MAX_QUERY]
    source = request.args.get("source", "")
    page = _page_number(request.args.get("page", "1"))
    sources = _sources()
    if source and source not in {name for name, _ in sources}:
        source = ""  # an unknown source filter (an old link) shows everything, not an error
    found = _search(query, source) if query else None
    total = len(found) if found is not None else _count(source)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)  # a page past the end (an old link) shows the last one
    if found is not None:
        rows = found[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    else:
        rows = _listing(source, page)
    return render_template("console/content.html", rows=rows, total=total, query=query,
                           source=source, sources=sources, page=page, pages=pages,
                           can_import=user().is_admin)


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def _sources() -> list[tuple[str, int]]:
    rows = db().execute(f"SELECT source, count(*) FROM readings WHERE {store_readings.CURRENT}"
                        " GROUP BY source ORDER BY source")
    return [(name, n) for name, n in rows]


def _where(source: str) -> tuple[str, list[Any]]:
    return (store_readings.CURRENT + (" AND source = ?" if source else ""),
            [source] if source else [])


def _count(source: str) -> int:
    where, params = _where(source)
    return db().execute(f"SELECT count(*) FROM readings WHERE {where}", params).fetchone()[0]


def _listing(source: str, page: int) -> list[dict[str, Any]]:
    where, params = _where(source)
    rows = db().execute(
        f"SELECT id, source, short, version, article_no, title, body FROM readings WHERE {where}"
        " ORDER BY short, CAST(article_key AS INTEGER), article_key, id LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE]).fetchall()
    return [_row(r, search.snippet(r[6], "")) for r in rows]


def _search(query: str, source: str) -> list[dict[str, Any]]:
    hits = search.search(db(), query, limit=SEARCH_LIMIT)
    rows = []
    for hit in hits:
        row = db().execute("SELECT id, source, short, version, article_no, title, body"
                           " FROM readings WHERE id = ?", [hit.ref]).fetchone()
        if row and (not source or row[1] == source):
            rows.append(_row(row, hit.snippet))
    return rows


def _row(row: tuple, snippet: str) -> dict[str, Any]:
    return {"id": row[0], "source": row[1], "short": row[2], "version": row[3],
            "article_no": row[4], "title": row[5], "snippet": snippet}


@route("/content/readings/<int:reading_id>")
def content_reading(reading_id: int) -> ResponseReturnValue:
    reading = store_readings.get_reading(db(), reading_id)
    if reading is None:
        abort(404)
    return render_template("console/reading.html", reading=reading)


# --- importing a regulation --------------------------------------------------------------

# The body holds the file and the form's few fields: room for the largest file the splitter takes.
UPLOAD_LIMIT = MAX_FILE_BYTES + 64 * 1024


@route("/content/import", methods=("GET", "POST"), admin_only=True, max_bytes=UPLOAD_LIMIT)
def content_import() -> ResponseReturnValue:
    if request.method == "GET":
        return _import_form()
    upload = request.files.get("file")
    source = request.form.get("source", "")
    version = request.form.get("version", "")
    if upload is None or not upload.filename:
        return _import_form("请选择要上传的法规文本文件（.txt 或 .md）。", source, version), 400
    data = upload.stream.read(MAX_FILE_BYTES + 1)  # one byte more tells "too big" apart
    try:
        parsed = ri.parse_upload(upload.filename, data)
        source, version = ri.check_names(parsed, source, version)
    except ri.ImportProblem as exc:
        return _import_form(str(exc), source, version), 400
    pending = ri.hold(services(), filename=upload.filename, data=data, parsed=parsed,
                      source=source, version=version, owner=user().id)
    with services().store.transaction():
        record("content.import.preview", {"file": upload.filename, "source": source,
                                          "version": version, "articles": len(parsed.articles)})
    return render_template("console/import_preview.html", parsed=parsed, pending=pending,
                           existing=_existing(source, version),
                           chapter_rows=ri.chapter_rows(parsed))


def _import_form(error: str | None = None, source: str = "", version: str = "") -> str:
    return render_template("console/import.html", error=error, source=source, version=version,
                           max_mb=MAX_FILE_BYTES // 1024 // 1024, max_lines=f"{MAX_LINES:,}")


def _existing(source: str, version: str) -> int:
    return db().execute("SELECT count(*) FROM readings WHERE source = ? AND version = ?",
                        [source, version]).fetchone()[0]


@route("/content/import/confirm", methods=("POST",), admin_only=True)
def content_import_confirm() -> ResponseReturnValue:
    token = request.form.get("token", "")
    try:
        pending = ri.load(services(), token, owner=user().id)
        if request.form.get("action") == "discard":
            ri.discard(services(), token)
            with services().store.transaction():
                record("content.import.discard",
                       {"file": pending.filename, "source": pending.source})
            return redirect(url_for("console.content_import"))
        report = ri.confirm(services(), pending, actor=f"console:{user().name}")
    except ri.ImportProblem as exc:
        return _import_form(str(exc)), 400
    with services().store.transaction():
        record("content.import", {"source": report.source, "version": report.version,
                                  "articles": report.articles, "changed": report.changed})
    return render_template("console/import_done.html", report=report)


# --- integrity reminders ------------------------------------------------------------------

@route("/content/reminders")
def content_reminders() -> ResponseReturnValue:
    this_year = services().clock.today().year
    text = request.args.get("year", str(this_year))
    year = int(text) if text.isdigit() and len(text) == 4 else None
    if year is None or not this_year - 5 <= year <= this_year + 5:
        error = f"年份应在 {this_year - 5} 至 {this_year + 5} 之间。"
        return render_template("console/reminders.html", year=this_year, plans=[],
                               reminders=[], error=error, this_year=this_year), 400
    try:
        plans = plan_year(services(), year)
    except ValueError as exc:
        return render_template("console/reminders.html", year=year, plans=[], reminders=[],
                               error=f"无法排出 {year} 年的计划：{exc}", this_year=this_year), 400
    rows = [{"day": p.date.day, "weekday": WEEKDAYS[p.date.day.weekday()],
             "occasion": p.reminder.occasion, "title": p.reminder.title,
             "holiday": p.date.holiday, "anchor": p.date.anchor, "official": p.date.official,
             "note": p.date.note, "past": p.date.day < services().clock.today()}
            for p in plans]
    return render_template("console/reminders.html", year=year, plans=rows,
                           reminders=default_reminders(services()), error=None,
                           this_year=this_year)


# --- the quiz bank ------------------------------------------------------------------------

@route("/content/quiz")
def content_quiz() -> ResponseReturnValue:
    questions = [{"id": q.id, "type": QUIZ_TYPES.get(q.type, q.type), "stem": q.stem,
                  "options": [("ABCDE"[i] if i < 5 else str(i + 1), o)
                              for i, o in enumerate(q.options)],
                  "answer": q.answer, "explanation": q.explanation, "source": q.source,
                  "version": q.version, "article_no": q.article_no, "active": q.active}
                 for q in store_quiz.list_questions(db())]
    return render_template("console/quiz.html", questions=questions)
