"""Split a regulation's text (党内法规, laws) into articles.

Pure text processing: no database, no Flask. The `content import` command reads a file with
`read_regulation_file`, splits it with `parse_regulation`, shows `summary` on --dry-run and
writes the articles itself.

The input is whatever an admin found: Markdown copied from a GitHub repository, a plain-text
export from a government site, a GB18030 file saved on Windows. The layout quirks this module
survives are listed in ../shared/data/regulations/SOURCES.txt; the main rule is that an article
begins only where "第X条" starts a line, because the same words appear mid-line in
cross-references ("依照本条例第十七条", "第五十条、第五十一条").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

MAX_FILE_BYTES = 5 * 1024 * 1024
# The byte limit does not bound the work: 5 MB of blank lines took 7 s to split (each line is
# examined). The longest law, the Criminal Law, has a few thousand lines.
MAX_LINES = 50_000

# Chinese numerals as they appear in article and chapter labels. 两 and 〇 are rare in labels
# but cost nothing to accept.
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_DIGIT_CHARS = "零一二三四五六七八九"
_NUMERAL_CLASS = "零〇一二两三四五六七八九十百千0-9０-９"

# Indentation and the separator after a label: ASCII space, tab, U+3000 (ideographic space),
# NBSP. U+FEFF covers a BOM left in the middle of pasted text.
_SPACE_CLASS = " \t\u3000\u00a0\ufeff"

_ARTICLE_RE = re.compile(
    rf"^(?P<label>第(?P<num>[{_NUMERAL_CLASS}]+)条(?:之(?P<sub>[{_NUMERAL_CLASS}]+))?)"
    # The label must be followed by a separator or the end of the line: "第五十条、第五十一条
    # 所列…" at the start of a wrapped line is a reference, not an article.
    rf"(?:[{_SPACE_CLASS}]+|$)"
    rf"(?P<rest>.*)$"
)
# Same label glued to its text ("第一条为了…"): only used to explain a failed parse.
_GLUED_ARTICLE_RE = re.compile(rf"^第[{_NUMERAL_CLASS}]+条(?:之[{_NUMERAL_CLASS}]+)?\S")

_HEADING_RE = re.compile(
    rf"^(?P<label>第[{_NUMERAL_CLASS}]+(?P<kind>[编章节]))[{_SPACE_CLASS}]*(?P<title>.*)$"
)
# A heading title is a short phrase. Sentence punctuation means the line is prose that
# happens to start with "第二章…" and must stay in the article it belongs to.
_SENTENCE_PUNCT = set("。，；：！？,;:!?")
_MAX_HEADING_TITLE = 40
# Plain sub-headings (廉洁自律准则's "党员廉洁自律规范") carry no label, so they are held to a
# stricter shape: short, no punctuation at all, no digits, not an item like "（一）…".
_MAX_PLAIN_HEADING = 20
_PLAIN_HEADING_FORBIDDEN = _SENTENCE_PUNCT | set("、.…（）()“”\"'《》〈〉【】[]")

_TITLE_SUFFIXES = ("条例", "准则", "法", "规定", "办法", "规则", "细则", "章程", "决定",
                   "意见", "纲要", "守则", "制度", "通知")

# "#第一章" without a space is common in Chinese Markdown, so the space is optional.
_MD_HEADING_RE = re.compile(r"^#{1,6}(?!#)[ \t\u3000]*")
# "**第一条** 为了…": a bold span opening the line; it becomes "第一条 " + the rest.
_MD_LEADING_BOLD_RE = re.compile(r"^(\*\*|__)(.+?)\1[ \t\u3000]*")
_MD_RULE_RE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,}|={3,})$")
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?P<body>.*?\n)---[ \t]*(?:\n|\Z)", re.DOTALL)

# CJK ideographs and CJK/full-width punctuation (U+3000 itself excluded): a space between two
# of these is a line-wrap artefact ("生态文 明"), never meaningful.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3001-\u303f\uff00-\uffef"
_CJK_GAP_RE = re.compile(rf"(?<=[{_CJK}])[ \t\u3000\u00a0]+(?=[{_CJK}])")
_IDEOGRAPH_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_YEAR = r"((?:19|20)\d{2})"
_NOTE_KEYWORDS = ("通过", "修订", "修正", "发布", "印发", "审议", "批准", "公布", "施行")
_NOTE_YEAR_RE = re.compile(_YEAR + r"\s*年")
_TITLE_YEAR_RE = re.compile(
    rf"[{_SPACE_CLASS}]*(?:[（(【\[]\s*{_YEAR}[^）)】\]]*[）)】\]]|{_YEAR}\s*(?:年版|版|年)?)$"
)
_FILENAME_YEAR_RE = re.compile(r"(?<!\d)" + _YEAR + r"(?!\d)")
_EFFECTIVE_RE = re.compile(_YEAR + r"年\d{1,2}月\d{1,2}日起施行")


class RegulationError(ValueError):
    """Input that cannot be imported; the message is shown to the admin as is."""


@dataclass(frozen=True)
class Article:
    number: int
    sub: int
    article_no: str
    part: str | None
    chapter: str | None
    section: str | None
    body: str

    @property
    def key(self) -> str:
        """Stable identifier: "108", or "17-1" for 第十七条之一."""
        return f"{self.number}-{self.sub}" if self.sub else str(self.number)


@dataclass(frozen=True)
class ParsedRegulation:
    title: str | None
    version: str | None
    articles: tuple[Article, ...]
    preamble: str = ""
    # Things the admin should look at before importing (in Chinese, like `summary`): a gap in
    # the numbering, text that belongs to no article. Never fatal.
    warnings: tuple[str, ...] = ()

    def chapters(self) -> list[str]:
        """Chapter headings in order of appearance, each once."""
        return _unique(a.chapter for a in self.articles)

    def parts(self) -> list[str]:
        """编 headings in order of appearance, each once."""
        return _unique(a.part for a in self.articles)

    def sections(self) -> list[str]:
        """节 headings and plain sub-headings in order of appearance, each once."""
        return _unique(a.section for a in self.articles)


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)


# --------------------------------------------------------------------------- numerals


def chinese_numeral_to_int(text: str) -> int:
    """一百零八 -> 108, 十七 -> 17, 二十 -> 20; ASCII or full-width digits ("88") pass through."""
    text = text.strip()
    if not text:
        raise RegulationError("Empty number.")
    if text.isdecimal():
        return int(text)
    total = 0
    pending: int | None = None  # a digit waiting for its unit
    last_unit = 10_000
    after_zero = False
    for ch in text:
        if ch in _DIGITS:
            if pending is not None:
                raise RegulationError(f"Not a Chinese numeral: {text!r}.")
            if _DIGITS[ch] == 0:
                after_zero = True
                continue
            pending = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                raise RegulationError(f"Not a Chinese numeral: {text!r}.")
            # "十七" starts with a bare 十 meaning 一十.
            total += (1 if pending is None else pending) * unit
            pending, last_unit, after_zero = None, unit, False
        else:
            raise RegulationError(f"Not a Chinese numeral: {text!r}.")
    if pending is not None:
        # A trailing digit is units, unless it follows a unit without 零 in a short form
        # like "一百五" (150), which labels never use: reject rather than guess.
        if last_unit > 10 and last_unit != 10_000 and not after_zero:
            raise RegulationError(f"Not a Chinese numeral: {text!r}.")
        total += pending
    if total == 0:
        raise RegulationError(f"Not a Chinese numeral: {text!r}.")
    return total


def int_to_chinese_numeral(n: int) -> str:
    """108 -> 一百零八, 10 -> 十, 15 -> 十五, 110 -> 一百一十 (1 to 9999)."""
    if not 1 <= n <= 9999:
        raise ValueError(f"Out of range for an article number: {n}")
    out: list[str] = []
    zero_pending = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // unit % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGIT_CHARS[digit] + name)
    text = "".join(out)
    # 10..19 are written 十, 十五, not 一十五; 110 keeps its 一十.
    return text[1:] if 10 <= n <= 19 else text


# --------------------------------------------------------------------------- reading files


def read_regulation_file(path: Path) -> str:
    """Read a regulation file as text: UTF-8 (BOM or not), else GB18030 Chinese text."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RegulationError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if size > MAX_FILE_BYTES:
        raise RegulationError(
            f"{path.name} is {size / 1024 / 1024:.1f} MB; a regulation text is far smaller "
            f"(limit {MAX_FILE_BYTES // 1024 // 1024} MB). Is this the right file?"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegulationError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if not data:
        raise RegulationError(f"{path.name} is empty.")
    if b"\x00" in data:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise RegulationError(
                f"{path.name} is saved as UTF-16; save it as UTF-8 and try again."
            )
        raise RegulationError(f"{path.name} is a binary file (it contains NUL bytes), not text.")
    text = _decode(data, path.name)
    if not text.strip():
        raise RegulationError(f"{path.name} contains only whitespace.")
    return text


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_like_chinese(text):
        return text
    raise RegulationError(
        f"{name} is neither UTF-8 nor GB18030 Chinese text (another encoding, or not text); "
        "save it as UTF-8 and try again."
    )


def _looks_like_chinese(text: str) -> bool:
    """True when a GB18030 decoding produced real Chinese rather than mojibake.

    GB18030 accepts most byte pairs, so Latin-1 text like "Règlement" decodes "cleanly" into
    rare ideographs. Real Chinese text is almost entirely in GB2312 (the common characters and
    full-width punctuation); mojibake mostly is not.
    """
    if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
        return False
    wide = [ch for ch in text if ord(ch) > 127]
    if not wide or not _IDEOGRAPH_RE.search(text):
        return False
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common / len(wide) >= 0.9


# --------------------------------------------------------------------------- parsing


@dataclass
class _Line:
    number: int  # 1-based line in the admin's file (removed comments keep their newlines)
    text: str  # indentation and Markdown markup removed
    markdown_heading: bool


@dataclass
class _Draft:
    """An article being collected; frozen into an Article once complete."""

    line: int
    label: str
    number: int
    sub: int
    part: str | None
    chapter: str | None
    section: str | None
    paragraphs: list[str] = field(default_factory=list)

    def freeze(self) -> Article:
        return Article(
            number=self.number,
            sub=self.sub,
            article_no=self.label,
            part=self.part,
            chapter=self.chapter,
            section=self.section,
            body="\n".join(self.paragraphs),
        )


@dataclass
class _State:
    title: str | None = None
    part: str | None = None
    chapter: str | None = None
    section: str | None = None
    seen_content: bool = False  # any non-empty line yet (the title can only be the first)
    current: _Draft | None = None
    drafts: list[_Draft] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    unplaced: dict[str, int] = field(default_factory=dict)  # heading -> stray paragraphs


def parse_regulation(text: str, filename: str | None = None) -> ParsedRegulation:
    """Split a regulation into articles; `filename` only helps detect the version."""
    lines = text.count("\n") + 1
    if lines > MAX_LINES:
        raise RegulationError(f"The text has {lines} lines (limit {MAX_LINES}); a regulation "
                              "is far shorter. Is this the right file?")
    text, front_title = _strip_markdown_noise(_normalise_newlines(text))
    state = _State(title=front_title)
    for line in _content_lines(text):
        _consume(state, line)
    _close_article(state)
    if not state.drafts:
        raise RegulationError(_no_article_message(text))
    warnings = _check_order(state.drafts)
    warnings += [
        f"“{heading}”之后有 {count} 段文字不属于任何条，导入时将被忽略"
        for heading, count in state.unplaced.items()
    ]
    warnings += [f"{d.label}没有正文" for d in state.drafts if not d.paragraphs]
    articles = tuple(d.freeze() for d in state.drafts)
    title, title_year = _split_title_year(state.title)
    preamble = "\n".join(state.preamble)
    return ParsedRegulation(
        title=title,
        version=_detect_version(preamble, title_year, filename, articles),
        articles=articles,
        preamble=preamble,
        warnings=tuple(warnings),
    )


def _normalise_newlines(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _strip_markdown_noise(text: str) -> tuple[str, str | None]:
    """Drop front matter and HTML comments; return the front matter's title, if any."""
    title = None
    match = _FRONT_MATTER_RE.match(text)
    if match:
        for raw in match.group("body").splitlines():
            key, _, value = raw.partition(":")
            if key.strip().lower() == "title" and value.strip():
                title = value.strip().strip("\"'")
        # Keep the line count so reported line numbers still match the admin's file.
        text = "\n" * match.group(0).count("\n") + text[match.end():]
    # Comments may span lines ("<!-- INFO END -->" is one line, others are not).
    text = _HTML_COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return text, title


def _content_lines(text: str) -> list[_Line]:
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(_SPACE_CLASS)
        markdown_heading = bool(_MD_HEADING_RE.match(stripped))
        if markdown_heading:
            stripped = _MD_HEADING_RE.sub("", stripped).rstrip("#").strip(_SPACE_CLASS)
        elif stripped.startswith(">"):  # block quote
            stripped = stripped.lstrip(">").strip(_SPACE_CLASS)
        stripped = _MD_LEADING_BOLD_RE.sub(r"\2 ", stripped).strip(_SPACE_CLASS)
        if not stripped or _MD_RULE_RE.match(stripped):
            continue
        lines.append(_Line(number, stripped, markdown_heading))
    return lines


def _consume(state: _State, line: _Line) -> None:
    """Route one non-empty line: article start, heading, title, or paragraph."""
    first = not state.seen_content
    state.seen_content = True
    article = _ARTICLE_RE.match(line.text)
    if article:
        _start_article(state, article, line.number)
        return
    heading = _HEADING_RE.match(line.text)
    if heading and _is_heading_title(heading.group("title")):
        _close_article(state)
        _set_heading(state, heading.group("kind"), _normalise_heading(heading))
        return
    if first and _looks_like_title(line):
        # A front-matter title wins; the heading repeating it is still not a section.
        state.title = state.title or _join_cjk(line.text)
        return
    if line.markdown_heading or _looks_like_plain_heading(line.text):
        _close_article(state)
        state.section = _join_cjk(line.text)
        return
    _add_paragraph(state, line.text)


def _start_article(state: _State, match: re.Match[str], line_number: int) -> None:
    _close_article(state)
    label, sub = match.group("label"), match.group("sub")
    try:
        number = chinese_numeral_to_int(match.group("num"))
        sub_number = chinese_numeral_to_int(sub) if sub else 0
    except RegulationError as exc:
        raise RegulationError(f"Line {line_number}: {label} has a malformed number.") from exc
    state.current = _Draft(
        line=line_number,
        label=label,
        number=number,
        sub=sub_number,
        part=state.part,
        chapter=state.chapter,
        section=state.section,
    )
    rest = match.group("rest").strip(_SPACE_CLASS)
    if rest:
        state.current.paragraphs.append(_clean_paragraph(rest))


def _close_article(state: _State) -> None:
    if state.current is not None:
        state.drafts.append(state.current)
        state.current = None


def _set_heading(state: _State, kind: str, heading: str) -> None:
    # A higher level resets the levels below it: 第二编's articles are in no 第一编 chapter.
    if kind == "编":
        state.part, state.chapter, state.section = heading, None, None
    elif kind == "章":
        state.chapter, state.section = heading, None
    else:
        state.section = heading


def _add_paragraph(state: _State, text: str) -> None:
    if state.current is not None:
        state.current.paragraphs.append(_clean_paragraph(text))
    elif not state.drafts:
        # Before the first article: an opening paragraph or a revision note. Kept as printed
        # (only indentation removed): "2018年3月20日 第十三届…" needs its space.
        state.preamble.append(text)
    else:
        # After a heading that follows an article: gluing it to the previous article would
        # put it under the wrong heading, so it is reported instead.
        heading = state.section or state.chapter or state.part or "标题"
        state.unplaced[heading] = state.unplaced.get(heading, 0) + 1


def _is_heading_title(title: str) -> bool:
    return len(title) <= _MAX_HEADING_TITLE and not (set(title) & _SENTENCE_PUNCT)


def _normalise_heading(match: re.Match[str]) -> str:
    """"第一章 总 则" / "第一章　总则" / "第一章总则" -> "第一章 总则"."""
    title = _join_cjk(match.group("title"))
    title = re.sub(rf"[{_SPACE_CLASS}]+", " ", title).strip()
    return f"{match.group('label')} {title}" if title else match.group("label")


def _looks_like_plain_heading(text: str) -> bool:
    return (
        len(text) <= _MAX_PLAIN_HEADING
        and _IDEOGRAPH_RE.search(text) is not None
        and not any(ch.isdigit() for ch in text)
        and not (set(text) & _PLAIN_HEADING_FORBIDDEN)
    )


def _looks_like_title(line: _Line) -> bool:
    """The first line is the title if marked as a heading or shaped like a regulation name."""
    text = line.text
    if len(text) > 60 or set(text) & _SENTENCE_PUNCT:
        return False
    if line.markdown_heading:
        return True
    name, _ = _split_title_year(text)
    return bool(name) and name.strip("《》").endswith(_TITLE_SUFFIXES)


def _split_title_year(title: str | None) -> tuple[str | None, str | None]:
    """"中国共产党纪律处分条例 2023" -> ("中国共产党纪律处分条例", "2023")."""
    if title is None:
        return None, None
    match = _TITLE_YEAR_RE.search(title)
    year = None
    if match and match.start() > 0:
        year = match.group(1) or match.group(2)
        title = title[: match.start()]
    title = title.strip(_SPACE_CLASS)
    if title.startswith("《") and title.endswith("》"):
        title = title[1:-1]
    return (title or None), year


def _join_cjk(text: str) -> str:
    return _CJK_GAP_RE.sub("", text)


def _clean_paragraph(text: str) -> str:
    return _join_cjk(text.strip(_SPACE_CLASS))


def _check_order(drafts: list[_Draft]) -> list[str]:
    """Raise on a repeat or a step backwards; return warnings for gaps."""
    warnings = []
    first = drafts[0]
    if (first.number, first.sub) != (1, 0):
        warnings.append(f"第一个条文是{first.label}，不是第一条")
    for prev, cur in pairwise(drafts):
        if (cur.number, cur.sub) <= (prev.number, prev.sub):
            what = "repeats" if (cur.number, cur.sub) == (prev.number, prev.sub) else "follows"
            raise RegulationError(
                f"Article {cur.label} on line {cur.line} {what} {prev.label} (line "
                f"{prev.line}): article numbers must increase. Look for a duplicated or "
                "misplaced article, or a line that starts with a cross-reference."
            )
        if cur.sub == 0 and cur.number > prev.number + 1:
            missing = int_to_chinese_numeral(prev.number + 1)
            warnings.append(f"{prev.label}之后是{cur.label}，缺少第{missing}条")
    return warnings


def _no_article_message(text: str) -> str:
    glued = sum(1 for raw in text.split("\n") if _GLUED_ARTICLE_RE.match(raw.strip(_SPACE_CLASS)))
    if glued:
        return (
            "No article found: articles must start a line with their label and a space, "
            f"like \"第一条 …\"; {glued} line(s) have the label glued to the text."
        )
    return (
        "No article found: the text has no line starting with an article label "
        "such as \"第一条 \". Is this a regulation text?"
    )


def _detect_version(
    preamble: str, title_year: str | None, filename: str | None, articles: tuple[Article, ...]
) -> str | None:
    """The revision year: from the note under the title, the title, the file name, or the
    effective-date clause, in that order of trust."""
    note_years = [
        year
        for line in preamble.split("\n")
        if any(word in line for word in _NOTE_KEYWORDS)
        for year in _NOTE_YEAR_RE.findall(line)
    ]
    if note_years:
        return max(note_years)  # the latest revision, not the first adoption
    if title_year:
        return title_year
    if filename:
        file_years = _FILENAME_YEAR_RE.findall(Path(filename).stem)
        if file_years:
            return max(file_years)
    # Last resort, e.g. 问责条例's "本条例自2016年7月8日起施行" at the end.
    for article in reversed(articles):
        effective = _EFFECTIVE_RE.search(article.body)
        if effective:
            return effective.group(1)
    return None


# --------------------------------------------------------------------------- dry run


def summary(parsed: ParsedRegulation) -> str:
    """What --dry-run prints: enough for the admin to see the split is right."""
    unknown = "（未识别）"
    articles = parsed.articles
    first, last = articles[0], articles[-1]
    lines = [
        f"标题：{parsed.title or unknown}",
        f"版本：{parsed.version or unknown}",
        f"条数：{len(articles)}（{first.article_no}至{last.article_no}）",
    ]
    parts = parsed.parts()
    if parts:
        lines.append(f"编：{len(parts)}（{'、'.join(parts)}）")
    chapters = parsed.chapters()
    lines.append(f"章：{len(chapters)}" if chapters else "章：无")
    lines.extend(f"  {chapter}" for chapter in chapters)
    sections = parsed.sections()
    if sections:
        lines.append(f"节/小标题：{len(sections)}（{'、'.join(sections)}）")
    lines.append(f"首条：{first.article_no} {_excerpt(first.body)}")
    lines.append(f"末条：{last.article_no} {_excerpt(last.body)}")
    lines.extend(f"注意：{warning}" for warning in parsed.warnings)
    return "\n".join(lines)


def _excerpt(body: str, length: int = 30) -> str:
    flat = body.replace("\n", " ")
    return flat if len(flat) <= length else flat[:length] + "…"
