"""Importing a regulation from the console in two steps: upload -> preview -> confirm.

The uploaded bytes wait in the kv table (not in the session cookie, not on a worker's disk), so
any gunicorn worker can take the confirm. The preview shows the split of those bytes; the
confirm splits the same bytes again, checks the result is what was shown (a digest of every
article) and only then writes, through bot.library_sync.import_regulation, in one transaction.
Every message here is Chinese: the person reading it is the branch's secretary.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.library_sync import ImportReport, import_regulation
from bot.regulations import MAX_FILE_BYTES, ParsedRegulation, RegulationError, parse_regulation
from bot.regulations import read_regulation_file as _read_file
from bot.services import Services
from bot.store import kv

PENDING_PREFIX = "console:regulation-import:"
PENDING_SECONDS = 30 * 60
MAX_NAME = 60
_YEAR = re.compile(r"^(19|20)\d{2}$")


class ImportProblem(ValueError):
    """Why an upload cannot be previewed or imported, in Chinese, ready to show."""


@dataclass(frozen=True)
class Pending:
    token: str
    filename: str
    data: bytes
    source: str
    version: str
    digest: str      # of the articles as previewed
    owner: int       # the console account that uploaded it


def parse_upload(filename: str, data: bytes) -> ParsedRegulation:
    """Split uploaded bytes as the CLI splits a file; ImportProblem says what is wrong."""
    if not data:
        raise ImportProblem("上传的文件是空的。")
    if len(data) > MAX_FILE_BYTES:
        raise ImportProblem(f"文件有 {len(data) / 1024 / 1024:.1f} MB，超过 "
                            f"{MAX_FILE_BYTES // 1024 // 1024} MB 上限；法规文本远小于此，请确认选对了文件。")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportProblem("文件是 UTF-16 编码，请另存为 UTF-8 后再上传。")
    if b"\x00" in data:
        raise ImportProblem("这是二进制文件（如 Word、PDF 或图片），不是文本；请把法规全文另存为 .txt 或 .md 再上传。")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _safe_name(filename)
        path.write_bytes(data)
        try:
            text = _read_file(path)
            return parse_regulation(text, filename=path.name)
        except RegulationError as exc:
            raise ImportProblem(chinese_reason(str(exc))) from exc


def chinese_reason(message: str) -> str:
    """The splitter speaks English to the CLI's log readers; say the same in Chinese here."""
    if "neither UTF-8 nor GB18030" in message:
        return "无法识别文件编码（不是 UTF-8 或 GB18030 中文文本），请另存为 UTF-8 后再上传。"
    lines = re.match(r"The text has (\d+) lines \(limit (\d+)\)", message)
    if lines:
        return (f"文件有 {lines.group(1)} 行，超过 {lines.group(2)} 行上限；法规文本远短于此，"
                "请确认选对了文件。")
    if "only whitespace" in message:
        return "文件里只有空白，没有文字。"
    if "label glued" in message:
        return "没有找到条文：每条应单独起行，以“第一条”加空格开头；文件中条号与正文连在一起了。"
    if message.startswith("No article found"):
        return "没有找到任何条文（没有以“第一条 ”这样开头的行）。这是法规全文吗？"
    order = re.match(r"Article (\S+) on line (\d+) (repeats|follows) (\S+) \(line (\d+)\)",
                     message)
    if order:
        label, line, how, prev, prev_line = order.groups()
        verb = "与" if how == "repeats" else "排在"
        tail = "重复" if how == "repeats" else "之后"
        return (f"第 {line} 行的{label}{verb}第 {prev_line} 行的{prev}{tail}：条号必须依次递增。"
                "请检查是否有重复或错位的条文，或以引用开头的行。")
    return f"无法拆分这个文件：{message}"


def articles_digest(parsed: ParsedRegulation) -> str:
    rows = [[a.article_no, a.part, a.chapter, a.section, a.body] for a in parsed.articles]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def check_names(parsed: ParsedRegulation, source: str, version: str) -> tuple[str, str]:
    """The source name and version year the import will use: given ones, else detected."""
    source = " ".join(source.split()) or (parsed.title or "")
    version = version.strip() or (parsed.version or "")
    if not source:
        raise ImportProblem("文本中没有识别出法规名称，请在「法规名称」中填写后重新上传。")
    if len(source) > MAX_NAME:
        raise ImportProblem(f"法规名称最多 {MAX_NAME} 个字。")
    if not version:
        raise ImportProblem("文本中没有识别出版本年份，请在「版本年份」中填写（如 2023）后重新上传。")
    if not _YEAR.match(version):
        raise ImportProblem("版本年份应为四位年份，如 2023。")
    return source, version


def hold(services: Services, *, filename: str, data: bytes, parsed: ParsedRegulation,
         source: str, version: str, owner: int) -> Pending:
    """Keep the upload for the confirm step; returns it with its token."""
    now = services.clock.now().timestamp()
    pending = Pending(secrets.token_urlsafe(16), filename, data, source, version,
                      articles_digest(parsed), owner)
    value = json.dumps({"filename": filename, "data": base64.b64encode(data).decode(),
                        "source": source, "version": version, "digest": pending.digest,
                        "owner": owner})
    with services.store.transaction() as db:
        # Abandoned previews would otherwise pile up megabytes in kv.
        db.execute("DELETE FROM kv WHERE key LIKE ? AND expires_at <= ?",
                   [PENDING_PREFIX + "%", now])
        kv.put(db, PENDING_PREFIX + pending.token, value, now + PENDING_SECONDS)
    return pending


def load(services: Services, token: str, owner: int) -> Pending:
    now = services.clock.now().timestamp()
    raw = kv.get(services.store.db, PENDING_PREFIX + token, now) if token else None
    if raw is None:
        raise ImportProblem("这次预览已过期或已导入，请重新上传文件。")
    value = json.loads(raw)
    if value["owner"] != owner:
        raise ImportProblem("这次预览不是您上传的，请自己上传文件。")
    return Pending(token, value["filename"], base64.b64decode(value["data"]), value["source"],
                   value["version"], value["digest"], value["owner"])


def confirm(services: Services, pending: Pending, actor: str) -> ImportReport:
    """Write exactly the previewed split, then forget the upload."""
    parsed = parse_upload(pending.filename, pending.data)
    if articles_digest(parsed) != pending.digest:
        raise ImportProblem("文件的拆分结果与预览时不一致，未导入；请重新上传并核对预览。")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _safe_name(pending.filename)
        path.write_bytes(pending.data)
        try:
            report = import_regulation(services.store, path, parsed, source=pending.source,
                                       version=pending.version, actor=actor,
                                       now=services.clock.now())
        except RegulationError as exc:
            raise ImportProblem(chinese_reason(str(exc))) from exc
    with services.store.transaction() as db:
        kv.delete(db, PENDING_PREFIX + pending.token)
    return report


def discard(services: Services, token: str) -> None:
    with services.store.transaction() as db:
        kv.delete(db, PENDING_PREFIX + token)


def _safe_name(filename: str) -> str:
    """The upload's own name (it may carry the version year), without any path in it."""
    name = re.split(r"[\\/]", filename or "")[-1].strip().lstrip(".")
    name = re.sub(r"[\x00-\x1f]", "", name)[:120]
    return name or "upload.txt"


@dataclass(frozen=True)
class ChapterRow:
    heading: str     # "第一编 总则 · 第一章 任务、适用范围和运用规则", or "（无章）"
    first: str
    last: str
    count: int


def chapter_rows(parsed: ParsedRegulation) -> list[ChapterRow]:
    """The split by chapter, for the preview: each run of articles under one heading."""
    rows: list[ChapterRow] = []
    for article in parsed.articles:
        heading = " · ".join(h for h in (article.part, article.chapter) if h) or "（无章）"
        if rows and rows[-1].heading == heading:
            last = rows[-1]
            rows[-1] = ChapterRow(heading, last.first, article.article_no, last.count + 1)
        else:
            rows.append(ChapterRow(heading, article.article_no, article.article_no, 1))
    return rows
