"""今日纪法, article lookup ("纪律处分条例第八十八条", "第88条") and search ("搜 四风")."""

from __future__ import annotations

from bot import search
from bot.context import Context
from bot.daily import format_reading, reading_for
from bot.messages import Inbound, Reply
from bot.regulations import RegulationError, chinese_numeral_to_int
from bot.store import readings as store_readings
from handlers.router import HelpLine, router

# Terms a member's question may name; a question containing one is answered by search.
KNOWN_TERMS = (
    "八项规定", "四风", "形式主义", "官僚主义", "享乐主义", "奢靡之风", "礼品", "礼金", "红包",
    "购物卡", "消费卡", "宴请", "吃喝", "公款", "公车", "公务用车", "旅游", "婚丧喜庆", "津贴",
    "补贴", "奖金", "问责", "留置", "监察", "处分", "政务处分", "党纪", "纪律", "廉洁", "家风",
    "私人会所", "高尔夫", "插手", "干预", "兼职", "经商", "赌博", "警示", "谈话", "函询",
)
NUMERAL = r"[零〇一二两三四五六七八九十百千\d]+"


@router.text("今日", "今日纪法", "每日纪法", "今天的纪法", "今日学习", "纪法", "每日一读", "今天读什么",
             help=HelpLine(30, "今日纪法", "「今日纪法」读今天的一条条文"))
def todays_reading(inbound: Inbound, ctx: Context) -> Reply:
    today = ctx.clock.today()
    reading = reading_for(ctx.db, today, ctx.config.section("reading"))
    if reading is None:
        return Reply("纪法条文库还是空的，请联系党务干部导入学习内容。")
    return Reply(format_reading(reading, today))


# "第 88 条": phone keyboards often put spaces around digits.
@router.text(pattern=rf"(?:查看?|看)?\s*(?P<source>[^\s\d第]{{0,20}}?)\s*第\s?(?P<num>{NUMERAL})\s?条"
                     rf"(?:之(?P<sub>{NUMERAL}))?(?:是什么|讲的?什么|说了什么|内容)?[?？。]?",
             help=HelpLine(40, "查条文", "如「纪律处分条例第九十八条」"))
def article_lookup(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.match is not None
    try:
        number = chinese_numeral_to_int(ctx.match.group("num"))
        sub = ctx.match.group("sub")
        key = f"{number}-{chinese_numeral_to_int(sub)}" if sub else str(number)
    except RegulationError:
        return Reply("没看懂这个条号，请写成「第八十八条」或「第88条」。")
    named = ctx.match.group("source").strip("《》 ")
    short = _source_short(ctx, named) if named else None
    if named and short is None:
        return Reply(f"没有找到名为「{named}」的法规。可以试试：{_source_names(ctx)}")
    found = store_readings.by_article(ctx.db, key, short)
    if not found:
        where = f"《{named}》" if named else "纪法条文库"
        label = f"第{ctx.match.group('num')}条" + (f"之{sub}" if sub else "")  # as the member wrote it
        return Reply(f"{where}里没有找到{label}。{_selection_note(ctx, short)}"
                     "发送「搜 关键词」试试全文搜索。")
    if short is None and len({r.short for r in found}) > 1:
        # One line per source (a curated reading and the same imported article are one), and
        # every source: a member must be able to see the one they meant.
        first_of = {r.short: r for r in reversed(found)}
        listed = "\n".join(f"· {r.short}{r.article_no}　{r.title}"
                           for r in found if first_of[r.short] is r)
        # The example must be something the lookup understands: 第X条, not 八项规定's 第X项.
        example = next((r for r in found if r.article_no.endswith("条")), found[0])
        return Reply(f"有几部法规都有这一条，请说明是哪一部，例如「{example.short}{example.article_no}」："
                     f"\n{listed}")
    return Reply(format_reading(found[0]))


@router.text(pattern=r"(?:搜一下|查一下|搜索|查询|检索|搜|查)\s*(?P<query>.+)",
             help=HelpLine(50, "搜索", "「搜 四风」或「查 礼品礼金」"))
def search_command(inbound: Inbound, ctx: Context) -> Reply:
    assert ctx.match is not None
    return Reply(answer_search(ctx, ctx.match.group("query").strip("《》?？ ")))


@router.guess
def question_naming_a_term(inbound: Inbound, ctx: Context) -> Reply | None:
    text = inbound.normalised_text
    terms = [term for term in _vocabulary(ctx) if term in text]
    if not terms:
        return None
    longest = max(terms, key=len)
    return Reply(answer_search(ctx, longest))


def answer_search(ctx: Context, query: str) -> str:
    if not query:
        return "请在「搜」后面写上要查的词，例如：搜 四风"
    hits = search.search(ctx.db, query[:50], limit=3)
    if not hits:
        nearby = suggestions(ctx, query)
        hint = f"可以试试：{'、'.join(nearby)}" if nearby else "换个说法，或用更短的词试试"
        return f"没有找到与「{query}」有关的条文。{hint}"
    lines = [f"找到与「{query}」有关的条文："]
    for number, hit in enumerate(hits, start=1):
        reading = store_readings.get_reading(ctx.db, hit.ref)
        assert reading is not None
        lines.append(f"{number}. 《{reading.short}》{reading.article_no}　{reading.title}\n   {hit.snippet}")
    lines.append("发送法规名加条号（如「纪律处分条例第八十八条」）查看全文。")
    return "\n".join(lines)


def suggestions(ctx: Context, query: str, limit: int = 3) -> list[str]:
    """Known terms sharing characters with the query that do have matches."""
    chars = set(query)
    scored = sorted(((len(chars & set(term)), term) for term in _vocabulary(ctx)), reverse=True)
    nearby = [term for overlap, term in scored if overlap and term != query
              and search.search(ctx.db, term, limit=1)]
    return nearby[:limit]


def _vocabulary(ctx: Context) -> list[str]:
    return sorted(set(KNOWN_TERMS) | store_readings.all_tags(ctx.db))


def _selection_note(ctx: Context, short: str | None) -> str:
    """A member who asks for an article the default library leaves out is told it is a
    selection (README: 73 articles for daily reading), not that the article does not exist."""
    articles = store_readings.library_only(ctx.db, short) if short else 0
    if not articles:
        return ""
    return f"条文库目前只收录了这部法规的 {articles} 条重点条文，全文可请党务干部在管理后台导入。"


def _source_short(ctx: Context, named: str) -> str | None:
    for name, short, aliases in store_readings.sources(ctx.db):
        if named in (name, short, *aliases) or (len(named) >= 2 and named in name):
            return short
    return None


def _source_names(ctx: Context) -> str:
    return "、".join(short for _name, short, _aliases in store_readings.sources(ctx.db))
