"""Events are not conversations: every documented event type, over real HTTP to the webhook
(/wechat/mp in safe mode, /wechat/wecom), checked for its passive reply body.

The table is the platforms' event lists (../shared/docs/PLATFORM.md; the Official Account's
接收事件推送 / 自定义菜单事件 / 模板消息 / 群发 / 客服 pages and WeCom's 接收事件 / 通讯录回调 /
审批 pages), each with the fields the platform sends. A member who opened the app, moved,
followed a menu link or was touched by a send job gets "success" (nothing shown); subscribe,
menu clicks and a scan-and-wait button keep their answers; a member's image, voice or location
message keeps the note 「我目前只能读懂文字消息…」.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot import create_app
from bot.services import Services
from bot.store import members
from handlers.bind import HOW_TO_BIND
from handlers.events import WHAT_I_UNDERSTAND
from tests.browser import serve
from tests.conftest import MP_TEST, WECOM_TEST
from tests.wechat import Platform, encrypted_request, reply_text, wecom_request

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])
MEMBER_ID = 2
SENDERS = {"mp": "oEVENTMEMBER", "wecom": "li.event"}

SUCCESS = "success"  # no passive reply: the body WeChat and WeCom both accept as "nothing"
NOTE = WHAT_I_UNDERSTAND


@dataclass(frozen=True)
class Case:
    event: str       # as the platform spells it in <Event>
    extra: str = ""  # the event's other fields, as documented
    expect: str = SUCCESS  # SUCCESS, NOTE, or a prefix/substring of the text answer


# Both platforms: the same event names and shapes.
COMMON = [
    Case("subscribe", expect="欢迎回来"),
    Case("unsubscribe"),
    Case("CLICK", "<EventKey><![CDATA[CHECKIN]]></EventKey>", expect="打卡成功"),
    Case("CLICK", "<EventKey><![CDATA[NO_SUCH_KEY]]></EventKey>", expect=NOTE),
    Case("LOCATION", "<Latitude>39.908823</Latitude><Longitude>116.397470</Longitude>"
                     "<Precision>65.000000</Precision>"),
    Case("VIEW", "<EventKey><![CDATA[https://example.invalid/menu]]></EventKey>"),
    Case("scancode_push", "<EventKey><![CDATA[SCAN_PUSH]]></EventKey><ScanCodeInfo>"
                          "<ScanType><![CDATA[qrcode]]></ScanType>"
                          "<ScanResult><![CDATA[https://example.invalid/q]]></ScanResult>"
                          "</ScanCodeInfo>"),
    # The client shows 「消息接收中」 until a reply comes: the member waits for an answer.
    Case("scancode_waitmsg", "<EventKey><![CDATA[SCAN_WAIT]]></EventKey><ScanCodeInfo>"
                             "<ScanType><![CDATA[qrcode]]></ScanType>"
                             "<ScanResult><![CDATA[2]]></ScanResult></ScanCodeInfo>",
         expect=NOTE),
    *[Case(name, "<EventKey><![CDATA[PIC]]></EventKey><SendPicsInfo><Count>1</Count>"
                 "<PicList><item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]>"
                 "</PicMd5Sum></item></PicList></SendPicsInfo>")
      for name in ("pic_sysphoto", "pic_photo_or_album", "pic_weixin")],
    Case("location_select", "<EventKey><![CDATA[LOC]]></EventKey><SendLocationInfo>"
                            "<Location_X><![CDATA[23]]></Location_X>"
                            "<Location_Y><![CDATA[113]]></Location_Y><Scale><![CDATA[15]]>"
                            "</Scale><Label><![CDATA[广州市]]></Label></SendLocationInfo>"),
    Case("some_future_event", "<Anything><![CDATA[new]]></Anything>"),
    Case(""),  # an event element with no name at all
]

MP_ONLY = [
    Case("subscribe", "<EventKey><![CDATA[qrscene_123123]]></EventKey>"
                      "<Ticket><![CDATA[TICKET]]></Ticket>", expect="欢迎回来"),
    Case("SCAN", "<EventKey><![CDATA[123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>"),
    Case("view_miniprogram", "<EventKey><![CDATA[pages/index/index]]></EventKey>"
                             "<MenuId>MENUID</MenuId>"),
    Case("TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>"),
    Case("TEMPLATESENDJOBFINISH", "<MsgID>200163840</MsgID>"
                                  "<Status><![CDATA[failed:user block]]></Status>"),
    Case("MASSSENDJOBFINISH", "<MsgID>1988</MsgID><Status><![CDATA[sendsuccess]]></Status>"
                              "<TotalCount>100</TotalCount><FilterCount>80</FilterCount>"
                              "<SentCount>75</SentCount><ErrorCount>5</ErrorCount>"),
    Case("kf_create_session", "<KfAccount><![CDATA[test1@test]]></KfAccount>"),
    Case("kf_close_session", "<KfAccount><![CDATA[test1@test]]></KfAccount>"),
    Case("kf_switch_session", "<FromKfAccount><![CDATA[test1@test]]></FromKfAccount>"
                              "<ToKfAccount><![CDATA[test2@test]]></ToKfAccount>"),
    Case("subscribe_msg_popup_event", "<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[T]]>"
                                      "</TemplateId><SubscribeStatusString><![CDATA[accept]]>"
                                      "</SubscribeStatusString></List></SubscribeMsgPopupEvent>"),
]

WECOM_ONLY = [
    Case("enter_agent", "<EventKey><![CDATA[]]></EventKey><AgentID>1000002</AgentID>"),
    Case("change_contact", "<ChangeType>update_user</ChangeType><UserID><![CDATA[li.event]]>"
                           "</UserID><Name><![CDATA[李]]></Name>"),
    Case("change_contact", "<ChangeType>create_party</ChangeType><Id>2</Id>"
                           "<Name><![CDATA[第一支部]]></Name><ParentId><![CDATA[1]]></ParentId>"),
    Case("batch_job_result", "<BatchJob><JobId><![CDATA[S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3]]>"
                             "</JobId><JobType><![CDATA[sync_user]]></JobType><ErrCode>0</ErrCode>"
                             "<ErrMsg><![CDATA[ok]]></ErrMsg></BatchJob>"),
    Case("open_approval_change", "<AgentID>1000002</AgentID><ApprovalInfo>"
                                 "<ThirdNo><![CDATA[201806010001]]></ThirdNo>"
                                 "<OpenSpStatus>1</OpenSpStatus></ApprovalInfo>"),
    Case("sys_approval_change", "<AgentID>1000002</AgentID><ApprovalInfo><SpNo>202306010001"
                                "</SpNo><SpStatus>2</SpStatus></ApprovalInfo>"),
    Case("share_agent_change", "<AgentID>1000002</AgentID>"),
    Case("template_card_event", "<EventKey><![CDATA[key111]]></EventKey>"
                                "<TaskId><![CDATA[taskid111]]></TaskId>"
                                "<CardType><![CDATA[text_notice]]></CardType>"),
]


def event_xml(sender: str, case: Case, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{case.event}]]></Event>{case.extra}</xml>")


def message_xml(sender: str, kind: str, body: str, msg_id: int, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_qingfeng]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"{body}<MsgId>{msg_id}</MsgId></xml>")


MEMBER_MESSAGES = {
    "image": "<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl>"
             "<MediaId><![CDATA[media]]></MediaId>",
    "voice": "<MediaId><![CDATA[media]]></MediaId><Format><![CDATA[amr]]></Format>",
    "location": "<Location_X>39.9</Location_X><Location_Y>116.3</Location_Y><Scale>15</Scale>"
                "<Label><![CDATA[北京]]></Label>",
}


@pytest.fixture
def webhook(make_services, clock) -> Iterator[tuple[Services, int]]:
    """A bound member on both channels and the app on a real port."""
    services = make_services(mp=MP_TEST, wecom=WECOM_TEST)
    with services.store.transaction() as db:
        for channel, external_id in SENDERS.items():
            members.bind_identity(db, channel=channel, external_id=external_id,
                                  member_id=MEMBER_ID, now=clock.now())
    with serve(create_app(services=services)) as url:
        yield services, int(url.rsplit(":", 1)[1])


def post(port: int, channel: str, inner_xml: str, now: int) -> str:
    """The passive reply's text: "success" for none, else the decrypted Content."""
    platform = MP if channel == "mp" else WECOM
    build = encrypted_request if channel == "mp" else wecom_request
    query, body = build(platform, inner_xml, timestamp=now)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", f"/wechat/{channel}?{query}", body=body.encode(),
                     headers={"Content-Type": "text/xml"})
        answer = conn.getresponse()
        text = answer.read().decode()
    finally:
        conn.close()
    assert answer.status == 200, text
    return text if text == SUCCESS else reply_text(platform, text)


def matches(answer: str, expect: str) -> bool:
    if expect in (SUCCESS, NOTE):
        return answer == expect
    return answer != SUCCESS and expect in answer


@pytest.mark.parametrize("channel, table", [("mp", COMMON + MP_ONLY),
                                            ("wecom", COMMON + WECOM_ONLY)])
def test_every_documented_event_gets_its_passive_reply(webhook, clock, channel, table):
    _, port = webhook
    start = int(clock.timestamp())
    answers = {f"{i}:{case.event}": post(port, channel,
                                         event_xml(SENDERS[channel], case, start + i), start)
               for i, case in enumerate(table)}
    wrong = {key: answer for (key, answer), case in zip(answers.items(), table, strict=True)
             if not matches(answer, case.expect)}
    assert wrong == {}, f"{channel}: events answered wrongly: {wrong}"


@pytest.mark.parametrize("channel", ["mp", "wecom"])
def test_opening_the_wecom_app_or_moving_says_nothing_however_often(webhook, clock, channel):
    # enter_agent comes each time a member opens the app, LOCATION every few seconds while it
    # is open: neither may produce a chat bubble, the hundredth time no more than the first.
    _, port = webhook
    start = int(clock.timestamp())
    for i in range(5):
        for name in ("enter_agent", "LOCATION"):
            inner = event_xml(SENDERS[channel], Case(name), start + i)
            assert post(port, channel, inner, start) == SUCCESS


@pytest.mark.parametrize("channel", ["mp", "wecom"])
def test_a_stranger_who_follows_still_learns_how_to_bind(webhook, clock, channel):
    _, port = webhook
    now = int(clock.timestamp())
    answer = post(port, channel, event_xml("o-stranger", Case("subscribe"), now), now)
    assert HOW_TO_BIND in answer


@pytest.mark.parametrize("channel", ["mp", "wecom"])
@pytest.mark.parametrize("kind", sorted(MEMBER_MESSAGES))
def test_a_members_image_voice_or_location_message_keeps_the_note(webhook, clock, channel, kind):
    _, port = webhook
    now = int(clock.timestamp())
    inner = message_xml(SENDERS[channel], kind, MEMBER_MESSAGES[kind], 7001, now)
    assert post(port, channel, inner, now) == NOTE
