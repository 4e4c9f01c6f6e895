"""The benchmark's own parts, without servers: building callbacks, checking replies, the tables.

`make bench` is run by hand, so this keeps its code from rotting between runs (well under 2 s).
"""

from __future__ import annotations

import time

from bench import loadgen, webhook
from bench.__main__ import parse_args
from bench.echo_app import create_echo_app


def test_callbacks_are_signed_encrypted_and_answered_by_the_echo_anchor():
    senders = [webhook.userid(i) for i in range(5)]
    callbacks = webhook.build_callbacks(senders, 42, timestamp=int(time.time()))
    assert len({c["path"] for c in callbacks}) == 5  # a fresh nonce each
    assert all(c["path"].startswith("/wechat/wecom?msg_signature=") for c in callbacks)
    assert all("<Encrypt><![CDATA[" in c["body"] for c in callbacks)

    client = create_echo_app(webhook.TOKEN, webhook.AES_KEY, webhook.CORP_ID).test_client()
    answers = [client.post(c["path"], data=c["body"]) for c in callbacks]
    assert [a.status_code for a in answers] == [200] * 5

    settings = {"token": webhook.TOKEN, "encoding_aes_key": webhook.AES_KEY,
                "corp_id": webhook.CORP_ID, "expect": "打卡"}
    checked = loadgen.verify(settings, [a.data for a in answers], [200] * 5, senders)
    assert checked["ok"] == 5 and checked["bad"] == 0, checked["samples"]
    # A reply addressed to someone else, or without the word, is caught.
    wrong = loadgen.verify(settings, [a.data for a in answers], [200] * 5, senders[::-1])
    assert wrong["bad"] == 4
    assert loadgen.verify({**settings, "expect": "签到"}, [answers[0].data], [200])["bad"] == 1


def test_a_tampered_callback_is_refused_by_the_anchor():
    [callback] = webhook.build_callbacks(["bench000001"], 1, token="another-token")
    client = create_echo_app(webhook.TOKEN, webhook.AES_KEY, webhook.CORP_ID).test_client()
    assert client.post(callback["path"], data=callback["body"]).status_code == 403


def test_roster_rows_bind_every_member_to_a_wecom_userid():
    rows = webhook.roster_rows(10, 3)
    assert rows[0] == ["姓名", "支部", "党小组", "手机", "企业微信账号", "角色"]
    assert [row[4] for row in rows[1:]] == ["bench000010", "bench000011", "bench000012"]
    assert len({(row[0], row[1]) for row in rows[1:]}) == 3


def _result(throughput: float, p99: float, status: str = "200") -> dict:
    return {"requests": 100, "concurrency": 16, "elapsed_s": 100 / throughput,
            "throughput": throughput, "p50_ms": p99 / 3, "p99_ms": p99, "max_ms": p99 * 2,
            "statuses": {status: 100}, "errors": {}, "server_pids": [1], "server_cpu_s": 0.2,
            "client_cpu_s": 0.03, "machine_busy_s": 0.5, "verify": {"checked": 100, "ok": 100, "bad": 0, "samples": [],
                                             "contents": {"打卡成功": 100}}}


def test_results_become_medians_ratios_and_a_markdown_table():
    runs = [webhook.Run("anchor", 16, 1, _result(1000, 20), 150_000),
            webhook.Run("qingfeng", 16, 1, _result(400, 90), 160_000),
            webhook.Run("anchor", 16, 2, _result(800, 30), 151_000),
            webhook.Run("qingfeng", 16, 2, _result(600, 70), 159_000),
            webhook.Run("anchor", 16, 3, _result(900, 25), 150_000),
            webhook.Run("qingfeng", 16, 3, _result(500, 80, "503"), 158_000)]
    summaries = webhook.summarise(runs)
    anchor, qingfeng = summaries
    assert (anchor.throughput, qingfeng.throughput) == (900, 500)
    assert qingfeng.p99_ms == 80 and qingfeng.throughput_range == (400, 600)
    assert round(qingfeng.peak_rss_mb) == round(160_000 / 1024)
    assert runs[-1].five_xx == 100 and runs[-1].failed == 100
    assert qingfeng.cpu_ms_per_msg == 2.0

    table = webhook.format_table(summaries)
    assert table.splitlines()[0].startswith("| concurrency | server | msg/s |")
    assert "| 16 | Qingfeng | 500 (400–600) | 26.7 | 80.0 |" in table
    assert "**0.56×**" in table
    assert len(webhook.format_runs(runs).splitlines()) == 2 + len(runs)
    verdict = "\n".join(webhook.verdict(summaries))
    assert "Qingfeng is 0.56× the anchor; paired per round: 0.56× → misses" in verdict
    assert "Qingfeng 80.0 ms → misses" in verdict
    assert runs[0].other_load == (0.5 - 0.23) / 0.1


def test_a_variant_gets_its_own_rows_and_ratios():
    runs = [webhook.Run("anchor", 64, 1, _result(1000, 20)),
            webhook.Run("qingfeng", 64, 1, _result(500, 90)),
            webhook.Run("qingfeng+write-mutex", 64, 1, _result(1100, 40))]
    table = webhook.format_table(webhook.summarise(runs))
    assert "| 64 | Qingfeng + write-mutex | 1,100 (1,100–1,100) |" in table
    assert "**Qingfeng + write-mutex / anchor** | **1.10×**" in table
    assert "**Qingfeng / Qingfeng + write-mutex** | **0.45×** | 2.25× | 2.25×" in table
    assert "p99 at" not in "\n".join(webhook.verdict(webhook.summarise(runs)))


def test_percentiles_and_command_line():
    assert loadgen.percentile([], 99) == 0.0
    assert loadgen.percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert loadgen.percentile([float(i) for i in range(1, 101)], 50) == 50.0
    args = parse_args(["webhook", "--quick"])
    plan = webhook.Plan.from_args(quick=args.quick, requests=args.requests,
                                  concurrency=args.concurrency, rounds=args.rounds)
    assert (plan.requests, plan.concurrency, plan.rounds, plan.warmup) == (600, (16, 64), 3, 100)
    assert plan.roster_size == 2 * (100 + 3 * 600)
    full = webhook.Plan.from_args(requests=1000, concurrency=[8])
    assert (full.requests, full.concurrency, full.rounds) == (1000, (8,), 5)
