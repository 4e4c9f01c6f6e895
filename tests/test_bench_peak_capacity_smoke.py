"""Smoke tests for the peak and capacity benchmarks and the WeRoBot anchor, at tiny sizes, so
their code cannot rot between `make bench` runs. No timing is asserted."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from werkzeug.test import Client

from bench import capacity, loadgen, peak, webhook
from bench.__main__ import BENCHMARKS, parse_args
from bench.echo_app import create_echo_app
from bench.werobot_app import create_robot

SETTINGS = {"token": webhook.TOKEN, "encoding_aes_key": webhook.AES_KEY,
            "corp_id": webhook.CORP_ID, "expect": "打卡"}


def test_the_werobot_anchor_answers_official_account_safe_mode_callbacks():
    senders = [webhook.userid(i) for i in range(3)]
    callbacks = webhook.build_callbacks(senders, 77, official_account=True)
    assert all("encrypt_type=aes" in c["path"] and "?signature=" in c["path"] for c in callbacks)
    client = Client(create_robot(webhook.TOKEN, webhook.AES_KEY, webhook.CORP_ID).wsgi)
    answers = [client.post(c["path"], data=c["body"]) for c in callbacks]
    assert [a.status_code for a in answers] == [200] * 3
    checked = loadgen.verify(SETTINGS, [a.data for a in answers], [200] * 3, senders)
    assert checked["ok"] == 3, checked["samples"]
    # A callback signed with another token is refused.
    [forged] = webhook.build_callbacks(senders[:1], 80, official_account=True, token="other")
    assert client.post(forged["path"], data=forged["body"]).status_code == 403


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_the_load_generator_paces_requests_in_rate_mode():
    server: WSGIServer = make_server("127.0.0.1", 0,
                                     create_echo_app(webhook.TOKEN, webhook.AES_KEY,
                                                     webhook.CORP_ID), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        senders = [webhook.userid(i) for i in range(10)]
        spec = {"host": "127.0.0.1", "port": server.server_port, "concurrency": 2,
                "requests": webhook.build_callbacks(senders, 1), "senders": senders,
                "rate": 50.0, "verify": SETTINGS}
        started = time.perf_counter()
        result = loadgen.run(spec)
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    assert result["statuses"] == {"200": 10} and result["verify"]["ok"] == 10
    assert [t for t, _lat in result["timeline"]] == [i / 50.0 for i in range(10)]
    assert all(lat > 0 for _t, lat in result["timeline"])
    assert elapsed >= 9 / 50.0  # the last one was not sent before it was due


def test_peak_plan_and_report():
    plan = peak.Plan.from_args()
    assert (plan.members, plan.window_s, round(plan.rate)) == (10_000, 60.0, 167)
    assert peak.Plan.from_args(quick=True).members == 2000
    fire = datetime(2026, 11, 23, 8, 30, tzinfo=peak.TZ)
    result = {"statuses": {"200": 3}, "verify": {"ok": 3}, "server_cpu_s": 1.0,
              "timeline": [[0.0, 0.01], [1.0, 0.02], [2.0, 6.0]]}
    after = {"checkins": 3, "checkin_members": 3, "broadcasts": 1, "deliveries": {"sent": 3},
             "last_sent": (fire + timedelta(seconds=2)).isoformat()}
    state = {"delivered": [{"to": "a"}, {"to": "b"}, {"to": "c"}]}
    small = peak.Plan(members=3, compress=600.0)
    text = peak.report(small, {"date": "d", "cpus": "2", "cpu_model": "m", "ram": "r",
                               "python": "p", "sqlite": "s"}, result, after, state, fire,
                       fire.timestamp() - 1.0, 1024 * 100, 1.0)
    assert "| 3 | 20.0 |" in text and "| 2.0 |" in text  # p50 and the fan-out after the fire
    assert "- [ ] every reply under 5 s: 1 at or over" in text  # the 6 s reply is caught
    assert "- [x] the fake received 3 recipients, 3 distinct" in text


def test_capacity_measures_a_tiny_store(tmp_path):
    members = capacity.measure(capacity.Size("members", 12, 10), tmp_path / "m")
    assert 0 < members["rows"] <= 120
    assert members["checkin"]["n"] == members["stats"]["n"] == 12
    assert members["db_mb"] > 0 and members["peak_rss_mb"] > 0
    readings = capacity.measure(capacity.Size("readings", 5, 0, 1), tmp_path / "r")
    assert readings["rows"] > 300 and readings["search"]["n"] == 200
    table = capacity.format_table([members, readings])
    assert "| 12 members × 10 days | 12 |" in table and "| library 1× | 5 |" in table


def test_the_new_benchmarks_are_registered():
    assert {"peak", "capacity", "webhook"} <= set(BENCHMARKS)
    args = parse_args(["webhook", "--quick", "--baseline", "HEAD", "--variant", "workers-4"])
    plan = webhook.Plan.from_args(quick=args.quick, variants=args.variant, baseline=args.baseline)
    assert plan.baseline == "HEAD" and plan.variants == ("workers-4",)
    assert webhook.label("qingfeng@abc123") == "Qingfeng at abc123"
    assert webhook.label("werobot") == "anchor (WeRoBot echo)"
