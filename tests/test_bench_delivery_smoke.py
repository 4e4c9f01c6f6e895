"""The delivery benchmark's core, small and in-process: 50 members through the sandbox channel,
then its checks and tables. `make bench` is run by hand; this keeps bench/delivery.py from rotting.
"""

from __future__ import annotations

import copy

from bench import delivery
from bench.__main__ import parse_args


def test_fifty_members_through_the_sandbox_are_each_sent_once(tmp_path):
    result = delivery.broadcast_once(tmp_path, "sandbox", 50, own_process=False)

    assert result["ledger"]["sent"] == result["ledger"]["targeted"] == 50
    assert result["ledger"]["status"] == "done"
    assert result["inbox"] == {"rows": 50, "members": 50, "keys": 50}
    assert (result["send_calls"], result["send_items"], result["settled"]) == (1, 50, 50)
    assert result["expand_s"] > 0 and result["drain_s"] > 0
    checks = delivery.check_run(result, None)
    assert all(ok for _text, ok in checks), checks

    runs = [delivery.Run("sandbox", 1, result)]
    runs[0].checks = checks
    table = delivery.format_table(delivery.summarise(runs))
    assert table.splitlines()[0].startswith("| channel | members | expand s |")
    assert "| sandbox (SQLite inbox) | 50 |" in table and table.endswith("| ok |")
    assert len(delivery.format_runs(runs).splitlines()) == 3


def _wecom_result(members: int) -> dict:
    return {"channel": "wecom", "members": members,
            "ledger": {"targeted": members, "sent": members, "pending": 0, "failed": 0,
                       "undeliverable": 0, "reasons": {}, "status": "done",
                       "channels": {"wecom": members}}}


def test_the_fake_record_check_catches_a_repeat_a_stranger_and_a_gap():
    result = _wecom_result(3)
    state = {"delivered": [{"channel": "wecom", "to": delivery.external_id("wecom", i)}
                           for i in range(3)]}
    assert all(ok for _text, ok in delivery.check_run(result, state))

    twice = copy.deepcopy(state)
    twice["delivered"].append(twice["delivered"][0])
    stranger = copy.deepcopy(state)
    stranger["delivered"][2]["to"] = "someone-else"
    gap = {"delivered": state["delivered"][:2]}
    for broken in (twice, stranger, gap):
        assert not delivery.check_run(result, broken)[1][1]
    unsent = _wecom_result(3)
    unsent["ledger"]["sent"] = 2
    assert not delivery.check_run(unsent, state)[0][1]
    assert delivery.expected_http_sends("wecom", 10_000) == 10
    assert delivery.expected_http_sends("wecom", 10_001) == 11
    assert delivery.expected_http_sends("mp", 10_000) == 10_000


def test_fire_delays_table_and_command_line():
    fires = [delivery.Fire(1, d, d, d + 0.01, d, "done", 4.0) for d in (0.2, 0.5, 0.9)]
    table = delivery.format_fires(fires)
    assert "| 1 | 3 | 0.500 | 0.900 |" in table and table.endswith("| 4.0 |")

    args = parse_args(["delivery", "--quick"])
    plan = delivery.Plan.from_args(quick=args.quick, members=args.members, rounds=args.rounds)
    assert (plan.members, plan.rounds, plan.delay_runs, plan.default_tick_sample) == (
        2_000, 3, 3, False)
    full = delivery.Plan.from_args()
    assert (full.members, full.rounds, full.delay_runs, full.delay_tick_s) == (10_000, 3, 5, 1)
