"""推荐评选 in the console over HTTP: opening a vote through the form (bad input shown again,
nothing stored), a secretary held to their branch (403, audited), CSRF, turnout while open,
the tally only after the close (ties), the CSV, reminders and the announcement schedule."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot import votes
from bot.conversation import handle_inbound
from bot.messages import Inbound
from bot.store import members
from bot.store import votes as store_votes
from tests.console_helpers import logged_in, text, token

FORM = {"title": "第四季度共产党员先锋岗", "audience": "branch:第一党支部",
        "candidates": "张伟\n李红梅\n刘芳", "choices": "1", "opens_at": "2026-11-23T09:00",
        "closes_at": "2026-11-30T18:00"}


def post_form(client, **changes):
    return client.post("/admin/votes/new", data={**FORM, **changes,
                                                 "csrf_token": token(client, "/admin/votes/new")})


def count_votes(services) -> int:
    return services.store.db.execute("SELECT count(*) FROM votes").fetchone()[0]


def chat(services, member_id: int, words: str) -> str:
    with services.store.transaction() as db:
        members.bind_identity(db, channel="sandbox", external_id=f"c{member_id}",
                              member_id=member_id, now=services.clock.now())
    return handle_inbound(services, Inbound("sandbox", f"c{member_id}", "text", words,
                                            f"k-{member_id}-{words}", services.clock.now())).text


def test_an_admin_opens_a_vote_and_sees_turnout(services, client):
    logged_in(services, client, "admin")
    response = post_form(client)
    assert response.status_code == 302
    vote_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert chat(services, 2, "投票 1").startswith("已投票")
    page = text(client.get(f"/admin/votes/{vote_id}"))
    assert "1</strong> / 4 人已投票（25%）" in page
    assert "未投票：王建国、张伟、刘芳" in page
    assert 'id="tally"' not in page and "计票结果在评选结束后显示" in page
    assert "1. 张伟（第一党支部）" in page  # the ballot members get
    listing = text(client.get("/admin/votes"))
    assert "第四季度共产党员先锋岗" in listing and "投票中" in listing
    # The tally is not exported before the close.
    early = client.get(f"/admin/votes/{vote_id}/tally.csv")
    assert early.status_code == 302


def test_bad_input_is_shown_again_and_nothing_is_stored(services, client):
    logged_in(services, client, "admin")
    for changes, message in (({"title": ""}, "请填写评选名称"),
                             ({"audience": ""}, "请选择投票范围"),
                             ({"candidates": "张伟\n不存在的人"}, "名册里没有“不存在的人”"),
                             ({"choices": "两"}, "每人可选人数请填一个数字"),
                             ({"closes_at": ""}, "请填写截止时间"),
                             ({"closes_at": "2026-11-22T09:00"}, "截止时间须晚于开始时间")):
        page = text(post_form(client, **changes))
        assert message in page, message
        assert 'value="第四季度共产党员先锋岗"' in page or not changes.get("title", True)
    assert count_votes(services) == 0


def test_a_form_without_its_csrf_token_is_refused(services, client):
    logged_in(services, client, "admin")
    assert client.post("/admin/votes/new", data=FORM).status_code == 400
    assert count_votes(services) == 0


def test_a_secretary_only_for_their_branch(services, client):
    logged_in(services, client, "sec1", role="secretary", branch="第一党支部")
    page = text(client.get("/admin/votes/new"))
    assert "第一党支部全体党员" in page and "第二党支部" not in page and "全体党员</option>" \
        not in page.replace("第一党支部全体党员</option>", "")
    assert "支部书记只能在本支部" in text(post_form(client, audience="all"))
    assert "名册里没有“陈静”" in text(post_form(client, candidates="陈静"))
    assert post_form(client).status_code == 302
    other = votes.open_vote(services, votes.Opening(
        "第二支部评选", {"branches": ["第二党支部"]}, ["陈静"], 1, services.clock.now(),
        services.clock.now() + timedelta(days=1), False), actor="test")
    assert "第二支部评选" not in text(client.get("/admin/votes"))
    assert client.get(f"/admin/votes/{other}").status_code == 403
    csrf = token(client, "/admin/votes")
    assert client.post(f"/admin/votes/{other}/close", data={"csrf_token": csrf}).status_code == 403
    assert store_votes.get(services.store.db, other).status(services.clock.now()) == "open"
    denied = services.store.db.execute(
        "SELECT count(*) FROM audit WHERE action = 'denied'").fetchone()[0]
    assert denied == 2


def test_close_shows_the_tally_with_ties_and_exports_counts_only(services, client):
    logged_in(services, client, "admin")
    vote_id = int(post_form(client).headers["Location"].rsplit("/", 1)[1])
    chat(services, 1, "投票 1")
    chat(services, 2, "投票 2")
    chat(services, 3, "投票 3")
    csrf = token(client, f"/admin/votes/{vote_id}")
    assert client.post(f"/admin/votes/{vote_id}/close", data={"csrf_token": csrf}).status_code \
        == 302
    page = text(client.get(f"/admin/votes/{vote_id}"))
    assert "已结束" in page and 'id="tally"' in page and page.count("并列</span>") == 3
    assert "未投票：" not in page
    assert "已于" in chat(services, 4, "投票 1")  # after the close: refused, nothing written
    response = client.get(f"/admin/votes/{vote_id}/tally.csv")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == votes.TALLY_HEADER
    assert sorted(r[2] for r in rows[1:]) == ["刘芳", "张伟", "李红梅"]
    assert {r[4] for r in rows[1:]} == {"1"}
    again = client.post(f"/admin/votes/{vote_id}/close", data={"csrf_token": csrf},
                        follow_redirects=True)
    assert "已于" in text(again) and "结束" in text(again)


def test_remind_and_announce(services, client):
    logged_in(services, client, "admin")
    vote_id = int(post_form(client).headers["Location"].rsplit("/", 1)[1])
    chat(services, 2, "投票 1")
    csrf = token(client, f"/admin/votes/{vote_id}")
    page = text(client.post(f"/admin/votes/{vote_id}/remind", data={"csrf_token": csrf},
                            follow_redirects=True))
    assert "已提醒未投票的党员" in page
    reminded = services.store.db.execute(
        "SELECT d.member_id FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id"
        " WHERE b.key LIKE ? ORDER BY d.member_id", [f"vote:{vote_id}:remind:%"]).fetchall()
    assert [r[0] for r in reminded] == [1, 3, 4]
    early = text(client.post(f"/admin/votes/{vote_id}/announce",
                             data={"csrf_token": csrf, "at": "2026-12-01T09:00"},
                             follow_redirects=True))
    assert "评选结束后才能公布结果" in early
    client.post(f"/admin/votes/{vote_id}/close", data={"csrf_token": csrf})
    for at, message in (("", "请填写公布时间"), ("2026-11-01T09:00", "今后不会发送")):
        refused = text(client.post(f"/admin/votes/{vote_id}/announce",
                                   data={"csrf_token": csrf, "at": at}, follow_redirects=True))
        assert message in refused
    assert services.store.db.execute("SELECT count(*) FROM schedules").fetchone()[0] == 0
    late = text(client.post(f"/admin/votes/{vote_id}/remind", data={"csrf_token": csrf},
                            follow_redirects=True))
    assert "只有投票中的评选可以提醒" in late
    done = text(client.post(f"/admin/votes/{vote_id}/announce",
                            data={"csrf_token": csrf, "at": "2026-12-01T09:00"},
                            follow_redirects=True))
    assert "已新建定时消息" in done
    content = services.store.db.execute("SELECT content FROM schedules").fetchone()[0]
    assert "【评选结果】第四季度共产党员先锋岗" in content and "张伟（第一党支部）1 票" in content


def test_an_unknown_vote_is_a_404(services, client):
    logged_in(services, client, "admin")
    assert client.get("/admin/votes/999").status_code == 404
