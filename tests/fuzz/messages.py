"""Random callbacks: every message type and event, missing fields, huge values, control
characters, lone surrogates, DTDs and entities, truncated and re-encoded bodies.

Hypothesis draws one seed per example and `Gen` builds the whole request from it. Drawing each
field through Hypothesis cost 7-8 ms of CPU per example (measured: strategies re-validated per
draw, one choice per character), ten times the request under test; one seed keeps an example
near 1 ms, so 10,000 of them fit in CI. Failures stay reproducible: the seed is the example,
and the generator picks boundary values on purpose (empty, huge, 2**32-1, "]]>", U+D800).
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from tests.conftest import TEST_NOW

NOW = int(TEST_NOW.timestamp())
SEED = st.integers(min_value=0, max_value=2**64 - 1)

# Senders the fuzz tests bind to members, so member-only conversations run too, plus strangers.
WECOM_USERS = ("wangjg", "chenjing", "lihm")
MP_USERS = ("oMember1", "oMember5", "oMember2")
SENDERS = WECOM_USERS + MP_USERS + ("oStranger", "visitor")

# Characters XML 1.0 accepts, by the ranges that matter here: ASCII, CJK, full-width forms,
# emoji (astral), the odd spaces, and XML's own specials.
SAFE_RANGES = [(0x20, 0x7E), (0x4E00, 0x9FFF), (0xFF01, 0xFF5E), (0x1F600, 0x1F64F),
               (0x3000, 0x303F), (0xA0, 0x2FF)]
SAFE_SPECIALS = ["\t", "\n", "\r", "]]>", "&", "<", ">", "'", '"', "\u3000", "\u200b", "\ufeff",
                 "\u202e", "&amp;", "%s", "{0}", "'; DROP TABLE members; --"]
# What XML or UTF-8 refuse: C0/C1 controls, lone surrogates, U+FFFE/FFFF.
HOSTILE_RANGES = [(0x00, 0x1F), (0x7F, 0x9F), (0xD800, 0xDFFF), (0xFFFE, 0xFFFF)]

COMMANDS = ["打卡", "签到", "打卡 学习了第三章", "今天学习了", "已学习", "我的", "进度", "统计",
            "今日", "今日纪法", "搜 四风", "查 违规收送礼品礼金", "搜", "纪律处分条例第八十八条",
            "第88条", "第九十九万条", "处分条例第0条", "绑定 李红梅 0002", "绑定", "绑定 ABCDEF",
            "帮助", "菜单", "?", "定时 12-01 08:00 第一党支部 请学习", "定时 明天 全体 x", "确认",
            "放弃", "定时列表", "取消定时 1", "取消定时 99999999999999999999", "ＨＥＬＰ",
            "任务", "答题", "A", "答案 B", "今日一题"]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "LOCATION", "CLICK", "VIEW", "click",
          "TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH", "enter_agent", "scancode_push",
          "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
          "location_select", "view_miniprogram", "change_contact", "batch_job_result",
          "subscribe_msg_popup_event", "user_authorization_revoke", ""]
KINDS = ["text", "image", "voice", "video", "shortvideo", "location", "link", "file", "event",
         "TEXT", "Event", "miniprogrampage", ""]
EXTRA_FIELDS = {  # the fields each kind carries on the real platforms
    "image": ["PicUrl", "MediaId"], "voice": ["MediaId", "Format", "Recognition"],
    "video": ["MediaId", "ThumbMediaId"], "shortvideo": ["MediaId", "ThumbMediaId"],
    "location": ["Location_X", "Location_Y", "Scale", "Label"],
    "link": ["Title", "Description", "Url"], "file": ["MediaId", "FileName"],
    "event": ["EventKey", "Ticket", "Latitude", "Longitude", "Precision", "Status",
              "ChangeType", "ScanCodeInfo"],
}
CREATE_TIMES = ["", "0", "-1", "1e9", "٣٤", "²", "99999999999", "999999999999", "1.5",
                " 1700000000 ", "0x10", "18446744073709551616"]
STRAY = ["<Nested><a>1</a></Nested>", "<X a='1'/>", "<!-- c -->", "<?pi x?>", "<Content/>",
         "<Content>second</Content>", "<xml>inner root</xml>"]


def hostile_xml() -> list[bytes]:
    """DTDs, entities, XInclude, encodings and roots a parser must refuse or survive."""
    head = f"<FromUserName>oX</FromUserName><CreateTime>{NOW}</CreateTime><MsgType>text</MsgType>"
    return [s.encode() for s in [
        f'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>{head}<Content>&e;</Content></xml>',
        f'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><xml>{head}<Content>&b;</Content></xml>',
        f'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml>{head}<Content>x</Content></xml>',
        f"<!DOCTYPE xml><xml>{head}<Content>x</Content></xml>",
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/">%p;]><xml>{head}</xml>',
        f'<xml xmlns:xi="http://www.w3.org/2001/XInclude">{head}<Content><xi:include href="/etc/passwd" parse="text"/></Content></xml>',
        f'<?xml version="1.0" encoding="nonsense"?><xml>{head}</xml>',
        f'<?xml version="1.0" encoding="UTF-16"?><xml>{head}</xml>',
        f'<?xml version="1.1"?><xml>{head}<Content>&#1;</Content></xml>',
        f"<xml>{head}<Content>&amp;&lt;&#0;</Content></xml>",
        f"<xml>{head}<Content>&#xD800;</Content></xml>",
        f"<xml>{head}<Content>&undefined;</Content></xml>",
        "<notxml/>", "<xml>", "", "<xml></xml>", "<xml/>" * 3, "\ufeff<xml></xml>",
        "<" * 1000, "<a>" * 2000, "<xml>" + "<a>" * 500 + "</xml>",
    ]]


HOSTILE_XML = hostile_xml()


def _pool(ranges: list[tuple[int, int]], per_range: int, specials: list[str]) -> list[str]:
    # Drawing from a fixed pool with random.choices is ~50x faster than a range per character,
    # and still covers each range's edges.
    pick = random.Random(0)
    chars = [chr(code) for low, high in ranges
             for code in {low, high, *(pick.randint(low, high) for _ in range(per_range))}]
    return chars * 3 + specials  # specials about one draw in ten


SAFE_POOL = _pool(SAFE_RANGES, 40, SAFE_SPECIALS)
HOSTILE_POOL = SAFE_POOL + _pool(HOSTILE_RANGES, 20, [])


class Gen:
    """A seeded source of hostile values."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def pick(self, options):  # noqa: ANN001, ANN201 (any sequence)
        return options[self.r.randrange(len(options))]

    def one_in(self, n: int) -> bool:
        return self.r.randrange(n) == 0

    def int(self, low: int, high: int) -> int:
        return self.r.randint(low, high)

    def text(self, max_size: int = 40, *, hostile: bool = False) -> str:
        """Mostly XML-safe characters; with `hostile`, some that XML or UTF-8 refuse."""
        size = self.pick([0, 1, 2, self.int(0, max_size), max_size])
        return "".join(self.r.choices(HOSTILE_POOL if hostile else SAFE_POOL, k=size))

    def bytes(self, max_size: int = 300) -> bytes:
        return self.r.randbytes(self.int(0, max_size))

    def content(self) -> str:
        """What members say, alone or with random words around it; sometimes huge."""
        roll = self.int(0, 9)
        if roll <= 3:
            return self.pick(COMMANDS)
        if roll <= 5:
            return self.text(8) + self.pick(COMMANDS) + self.text(8)
        if roll <= 7:
            return self.pick(COMMANDS) + " " + self.text()
        if roll == 8:
            return self.text(3000)
        return self.text()

    def message_fields(self) -> dict[str, str]:
        """The children of one inner <xml>: every message type, every event, missing fields."""
        kind = self.pick(KINDS) if not self.one_in(10) else self.text(10)
        low = kind.lower()
        fields = {
            "ToUserName": self.pick(["gh_qingfeng", "ww0123456789abcdef", "", self.text()]),
            "FromUserName": self.pick(SENDERS) if not self.one_in(5) else self.text(),
            "CreateTime": str(self.int(NOW - 86_400 * 3, NOW + 600)) if not self.one_in(8)
            else self.pick(CREATE_TIMES),
            "MsgType": kind,
        }
        if low == "text":
            fields["Content"] = self.content()
        if low == "event":
            fields["Event"] = self.pick(EVENTS) if not self.one_in(8) else self.text(20)
        for name in EXTRA_FIELDS.get(low, []):
            if self.one_in(2):
                fields[name] = self.text(3000 if self.one_in(50) else 40)
        if low != "event" and not self.one_in(10):
            fields[self.pick(["MsgId", "MsgID"])] = str(self.pick(
                [0, 1, 2**63 - 1, 2**64, self.int(0, 10**6), self.int(0, 2**64)]))
        if self.one_in(2):
            fields["AgentID"] = self.pick(["1000002", "", "x"])
        for _ in range(self.pick([0, 0, 0, 1, 2])):
            fields.pop(self.pick(sorted(fields)), None)  # missing fields
        return fields

    def render_xml(self, fields: dict[str, str]) -> str:
        """<xml> with each field as CDATA or escaped text; sometimes a stray child."""
        parts = ["<xml>"]
        for name, value in fields.items():
            if self.one_in(2):
                parts.append(f"<{name}><![CDATA[{value}]]></{name}>")  # "]]>" inside breaks it
            else:
                parts.append(f"<{name}>{escape(value)}</{name}>")
        if self.one_in(10):
            parts.insert(self.int(1, len(parts)), self.pick(STRAY))
        parts.append("</xml>")
        return "".join(parts)

    def inner_message(self) -> bytes:
        """A message body as bytes: usually a well-formed message, sometimes broken."""
        shape = self.int(0, 19)
        if shape == 0:
            return self.bytes()
        if shape == 1:
            return self.pick(HOSTILE_XML)
        xml = self.render_xml(self.message_fields())
        if shape == 2:  # truncated
            xml = xml[:self.int(0, len(xml))]
        if shape == 3:  # a hostile character somewhere (invalid XML char or lone surrogate)
            at = self.int(0, len(xml))
            xml = xml[:at] + self.text(3, hostile=True) + xml[at:]
        if shape == 4:  # another encoding than the UTF-8 the platforms use
            return xml.encode(self.pick(["gbk", "utf-16", "latin-1", "utf-8-sig"]), "replace")
        return xml.encode("utf-8", "surrogatepass")
