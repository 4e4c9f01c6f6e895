"""A first end-to-end pass through both webhooks: a WeCom member checks in, an OA user binds."""

from tests.conftest import MP_TEST, WECOM_TEST
from tests.wechat import Platform, encrypted_request, reply_text, text_xml, wecom_request

MP = Platform(MP_TEST["token"], MP_TEST["encoding_aes_key"], MP_TEST["app_id"])
WECOM = Platform(WECOM_TEST["token"], WECOM_TEST["encoding_aes_key"], WECOM_TEST["corp_id"])


def test_wecom_member_checks_in_once(client, services, clock):
    from bot.store import members
    with services.store.transaction() as db:
        members.bind_identity(db, channel="wecom", external_id="LiHongMei", member_id=2,
                              now=clock.now())
    ts = int(clock.timestamp())
    query, body = wecom_request(WECOM, text_xml("LiHongMei", "打卡", 1001, ts), ts)
    answer = client.post(f"/wechat/wecom?{query}", data=body)
    assert answer.status_code == 200
    assert "打卡成功" in reply_text(WECOM, answer.get_data(as_text=True))


def test_mp_safe_mode_unbound_user_is_told_how_to_bind(client, clock):
    ts = int(clock.timestamp())
    query, body = encrypted_request(MP, text_xml("oNEW", "打卡", 2002, ts), ts)
    answer = client.post(f"/wechat/mp?{query}", data=body)
    assert answer.status_code == 200
    assert "绑定 姓名 手机后四位" in reply_text(MP, answer.get_data(as_text=True))
