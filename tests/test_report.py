"""The monthly study report: a seeded month checked cell by cell (detail, group and branch
summaries, the branch comparison), the XLSX read back with openpyxl, CSV, --branch, an empty
month, members who joined mid-month or left, months missed across a year boundary, and the
command line's bad input (one clear line, non-zero exit, no file left behind).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from bot import report as reports
from bot.cli import cli
from bot.clock import SHANGHAI
from bot.config import load_config
from bot.services import Services, build_services
from bot.store import checkins
from bot.store import members as store_members
from tests.paths import CONTENT

ENDED = date(2027, 1, 4)  # a day on which every month these tests report on has ended

EARLY = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)


# --- seeding helpers (plain SQL against migration 4 and 5's tables) ---------------------------

def add_member(db, name: str, branch: str, grp: str, role: str = "member",
               joined: datetime = EARLY) -> int:
    return store_members.add_member(db, name=name, branch=branch, grp=grp, role=role, now=joined)


def add_task(db, month: str, position: int, title: str, due: str, *, required: bool = True,
             audience: dict | None = None, removed: bool = False) -> int:
    cursor = db.execute(
        "INSERT INTO tasks (slug, month, position, title, due, required, audience, origin,"
        " removed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'admin', ?, ?, ?)",
        [f"t-{month}-{position}", month, position, title, due, int(required),
         json.dumps(audience or {"all": True}, ensure_ascii=False), int(removed),
         EARLY.isoformat(), EARLY.isoformat()])
    return int(cursor.lastrowid)


def done(db, task_id: int, member_id: int, day: str = "2026-11-10") -> None:
    db.execute("INSERT INTO task_done (task_id, member_id, day, at, via) VALUES (?, ?, ?, ?, ?)",
               [task_id, member_id, day, f"{day}T10:00:00+08:00", "sandbox"])


def check_in(db, member_id: int, *days: str) -> None:
    for day in days:
        d = date.fromisoformat(day)
        checkins.record_checkin(db, member_id=member_id, day=d, note="",
                                at=datetime(d.year, d.month, d.day, 8, tzinfo=SHANGHAI),
                                via="sandbox")


def answer(db, member_id: int, day: str, correct: bool) -> None:
    db.execute("INSERT OR IGNORE INTO quiz_questions (id, type, stem, answer, explanation, source,"
               " version, article_no) VALUES ('report-q', 'judge', '题干', '对', '解析', '来源',"
               " '2023', '第一条')")
    db.execute("INSERT INTO quiz_attempts (member_id, day, question_id, answer, correct, at, via)"
               " VALUES (?, ?, 'report-q', '对', ?, ?, 'sandbox')",
               [member_id, day, int(correct), f"{day}T09:00:00+08:00"])


def clear_tasks(services: Services) -> None:
    """Start without the example tasks content/ may hold, so every figure is ours."""
    with services.store.transaction() as db:
        db.execute("DELETE FROM task_done")
        db.execute("DELETE FROM tasks")


# --- the seeded month ------------------------------------------------------------------------

ONE, TWO = "第一党支部", "第二党支部"
ZH, CW, Y1, Y2 = "综合处党小组", "财务处党小组", "业务一处党小组", "业务二处党小组"


def seed(services: Services) -> dict[str, int]:
    clear_tasks(services)
    with services.store.transaction() as db:
        ids = {
            "王书记": add_member(db, "王书记", ONE, ZH, "secretary"),
            "李红梅": add_member(db, "李红梅", ONE, ZH),
            "张组长": add_member(db, "张组长", ONE, CW, "group_leader"),
            "刘芳": add_member(db, "刘芳", ONE, CW),
            "周新": add_member(db, "周新", ONE, CW,
                             joined=datetime(2026, 11, 21, 10, tzinfo=SHANGHAI)),
            "吴停": add_member(db, "吴停", ONE, ZH),
            "郑旧": add_member(db, "郑旧", ONE, ZH),
            "陈静": add_member(db, "陈静", TWO, Y1, "secretary"),
            "杨帆": add_member(db, "杨帆", TWO, Y1),
            "赵磊": add_member(db, "赵磊", TWO, Y2),
            "钱后": add_member(db, "钱后", TWO, Y2,
                             joined=datetime(2026, 12, 2, 10, tzinfo=SHANGHAI)),
        }
        store_members.deactivate(db, ids["吴停"])
        store_members.deactivate(db, ids["郑旧"])
        t1 = add_task(db, "2026-11", 1, "学习《纪律处分条例》第六章", "2026-11-20")
        t2 = add_task(db, "2026-11", 2, "主题党日：重温入党誓词", "2026-11-25")
        t3 = add_task(db, "2026-11", 3, "观看警示教育片", "2026-11-30", audience={"branches": [ONE]})
        t4 = add_task(db, "2026-11", 4, "选学：廉洁自律准则", "2026-11-30", required=False)
        t5 = add_task(db, "2026-11", 5, "已删除的任务", "2026-11-30", removed=True)
        t6 = add_task(db, "2026-11", 6, "业务二处专题学习", "2026-11-30", audience={"groups": [Y2]})
        for who in ("王书记", "张组长"):
            for task in (t1, t2, t3):
                done(db, task, ids[who])
        done(db, t1, ids["李红梅"])
        done(db, t5, ids["李红梅"])   # removed: not counted
        done(db, t4, ids["刘芳"])     # optional: not counted
        done(db, t2, ids["周新"], "2026-11-24")
        for who in ("陈静", "赵磊"):
            for task in (t1, t2, t6 if who == "赵磊" else t1):
                db.execute("INSERT OR IGNORE INTO task_done (task_id, member_id, day, at, via)"
                           " VALUES (?, ?, '2026-11-12', '2026-11-12T10:00:00+08:00', 'mp')",
                           [task, ids[who]])
        done(db, t1, ids["杨帆"])
        # October: 李红梅, 刘芳, 吴停 behind; September: only 刘芳 behind; August: no tasks.
        o1 = add_task(db, "2026-10", 1, "十月学习", "2026-10-31")
        s1 = add_task(db, "2026-09", 1, "九月学习", "2026-09-30")
        for name in ids:
            if name not in ("李红梅", "刘芳", "吴停"):
                done(db, o1, ids[name], "2026-10-20")
            if name != "刘芳":
                done(db, s1, ids[name], "2026-09-20")
        check_in(db, ids["王书记"], "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
                 "2026-11-30", "2026-10-31", "2026-12-01")
        check_in(db, ids["李红梅"], "2026-11-01", "2026-11-15", "2026-11-16")
        check_in(db, ids["吴停"], "2026-11-03")
        check_in(db, ids["杨帆"], "2026-11-10", "2026-11-11")
        for day, correct in (("2026-11-02", True), ("2026-11-03", True), ("2026-11-04", False),
                             ("2026-11-05", True), ("2026-10-30", False)):
            answer(db, ids["李红梅"], day, correct)
        answer(db, ids["王书记"], "2026-11-02", True)
        answer(db, ids["王书记"], "2026-11-03", True)
    return ids


# branch, group, name, 应学, 已学, 缺项, 打卡天数, 答题正确率, 连续未完成月数, 备注, 需关注
EXPECTED = [
    [ONE, ZH, "王书记", 3, 3, "", 5, "100.0%", 0, "", ""],
    [ONE, ZH, "李红梅", 3, 1, "主题党日：重温入党誓词、观看警示教育片", 3, "75.0%", 2, "", "是"],
    [ONE, ZH, "吴停", 3, 0, "学习《纪律处分条例》第六章、主题党日：重温入党誓词、观看警示教育片",
     1, "—", 2, "已停用", "是"],
    [ONE, CW, "张组长", 3, 3, "", 0, "—", 0, "", ""],
    [ONE, CW, "刘芳", 3, 0, "学习《纪律处分条例》第六章、主题党日：重温入党誓词、观看警示教育片",
     0, "—", 3, "", "是"],
    [ONE, CW, "周新", 2, 1, "观看警示教育片", 0, "—", 1, "本月新加入", "是"],
    [TWO, Y1, "陈静", 2, 2, "", 0, "—", 0, "", ""],
    [TWO, Y1, "杨帆", 2, 1, "主题党日：重温入党誓词", 2, "—", 1, "", "是"],
    [TWO, Y2, "赵磊", 3, 3, "", 0, "—", 0, "", ""],
]


@pytest.fixture
def services(make_services) -> Services:
    return make_services(demo=False)


def test_every_cell_of_the_detail(services):
    seed(services)
    result = reports.month_report(services.store.db, "2026-11", today=ENDED)
    assert reports.report_rows(result) == EXPECTED
    assert [t.title for t in result.tasks] == ["学习《纪律处分条例》第六章", "主题党日：重温入党誓词",
                                               "观看警示教育片", "业务二处专题学习"]


def test_group_and_branch_summaries(services):
    seed(services)
    result = reports.month_report(services.store.db, "2026-11", today=ENDED)
    one, two = result.branches
    assert reports.summary_rows(one) == [
        [ZH, 3, 3, 1, pytest.approx(1 / 3), 9, 4, pytest.approx(4 / 9), "李红梅、吴停"],
        [CW, 3, 3, 1, pytest.approx(1 / 3), 8, 4, 0.5, "刘芳、周新"],
        ["合计", 6, 6, 2, pytest.approx(1 / 3), 17, 8, pytest.approx(8 / 17),
         "李红梅、吴停、刘芳、周新"],
    ]
    assert reports.summary_rows(two) == [
        [Y1, 2, 2, 1, 0.5, 4, 3, 0.75, "杨帆"],
        [Y2, 1, 1, 1, 1.0, 3, 3, 1.0, ""],
        ["合计", 3, 3, 2, pytest.approx(2 / 3), 7, 6, pytest.approx(6 / 7), "杨帆"],
    ]
    # Branches compared by completion rate, best first.
    assert reports.overview_rows(result) == [
        [1, TWO, 3, 3, 2, pytest.approx(2 / 3), pytest.approx(6 / 7)],
        [2, ONE, 6, 6, 2, pytest.approx(1 / 3), pytest.approx(8 / 17)],
    ]


def test_branch_filter_keeps_only_that_branch(services):
    seed(services)
    result = reports.month_report(services.store.db, "2026-11", branch=TWO, today=ENDED)
    assert reports.report_rows(result) == EXPECTED[6:]
    assert [b.branch for b in result.branches] == [TWO]


def test_unknown_branch_and_bad_month_are_one_line_errors(services):
    seed(services)
    with pytest.raises(reports.ReportError, match="没有名为「第九党支部」的支部（现有：第一党支部、第二党支部）"):
        reports.month_report(services.store.db, "2026-11", branch="第九党支部", today=ENDED)
    for bad in ("2026-13", "2026/11", "11-2026", "", "2026-1"):
        with pytest.raises(reports.ReportError, match="月份格式不对"):
            reports.month_report(services.store.db, bad, today=ENDED)


def test_empty_month_lists_members_with_nothing_required(services):
    seed(services)
    result = reports.month_report(services.store.db, "2026-08", today=ENDED)
    rows = reports.report_rows(result)
    # Everyone active who had joined by August; nobody has anything required, rates are "—".
    assert [r[2] for r in rows] == ["王书记", "李红梅", "张组长", "刘芳", "陈静", "杨帆", "赵磊"]
    assert all(r[3:6] == [0, 0, ""] and r[7] == "—" and r[8] == 0 for r in rows)
    assert reports.overview_rows(result)[0][0] == "—"
    assert result.total.rate is None


def test_member_who_joined_after_the_month_is_not_listed_and_later_month_counts_them(services):
    ids = seed(services)
    november = {r.name for r in
                reports.month_report(services.store.db, "2026-11", today=ENDED).rows}
    assert "钱后" not in november and "郑旧" not in november
    december = reports.month_report(services.store.db, "2026-12", today=ENDED).rows
    row = next(r for r in december if r.member_id == ids["钱后"])
    assert (row.required, row.note) == (0, "本月新加入")


def test_months_missed_across_a_year_boundary(services):
    clear_tasks(services)
    with services.store.transaction() as db:
        joined = datetime(2025, 6, 1, 9, tzinfo=SHANGHAI)
        late = add_member(db, "跨年", ONE, ZH, joined=joined)
        fine = add_member(db, "按时", ONE, ZH, joined=joined)
        tasks = {month: add_task(db, month, 1, f"{month} 学习", f"{month}-28")
                 for month in ("2025-11", "2025-12", "2026-01", "2026-02")}
        done(db, tasks["2025-11"], fine, "2025-11-20")
        done(db, tasks["2026-01"], fine, "2026-01-20")
        done(db, tasks["2026-02"], late, "2026-02-20")
    db = services.store.db

    def missed(month: str) -> dict[str, int]:
        rows = reports.month_report(db, month, today=ENDED).rows
        return {r.name: r.months_missed for r in rows}

    assert missed("2025-11") == {"跨年": 1, "按时": 0}
    assert missed("2025-12") == {"跨年": 2, "按时": 1}
    assert missed("2026-01") == {"跨年": 3, "按时": 0}
    assert missed("2026-02") == {"跨年": 0, "按时": 1}


def test_csv_has_the_header_and_the_rows(services):
    seed(services)
    text = reports.report_csv(reports.month_report(services.store.db, "2026-11", today=ENDED))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == reports.HEADER
    assert rows[1:] == [[str(c) for c in row] for row in EXPECTED]


def test_xlsx_reads_back(services, tmp_path):
    seed(services)
    path = tmp_path / "report.xlsx"
    report = reports.month_report(services.store.db, "2026-11", today=ENDED)
    path.write_bytes(reports.report_xlsx(report))
    book = load_workbook(path)
    assert book.sheetnames == ["总览", "明细", f"汇总-{ONE}", f"汇总-{TWO}", "说明"]
    detail = book["明细"]
    assert [c.value for c in detail[1]] == reports.HEADER
    assert all(c.font.bold for c in detail[1])
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
    values = [[c.value for c in row] for row in detail.iter_rows(min_row=2)]
    expected = [[None if c == "" else c for c in row] for row in EXPECTED]
    for row in expected:  # the rate is a number shown as a percentage in XLSX
        row[7] = {"100.0%": 1, "75.0%": 0.75}.get(row[7], row[7])
    assert values == expected
    assert detail["H2"].number_format == "0.0%" and detail["H3"].number_format == "0.0%"
    # Widths fit the text: the 缺项 column is wider than the 应学 column, none is absurd.
    widths = {col: detail.column_dimensions[col].width for col in "ABCDEFGHIJ"}
    assert widths["F"] > widths["D"] >= 6 and max(widths.values()) <= 62
    assert widths["A"] >= 2 * len(ONE)
    summary = book[f"汇总-{ONE}"]
    assert [c.value for c in summary[1]] == reports.SUMMARY_HEADER
    assert [c.value for c in summary[4]][:4] == ["合计", 6, 6, 2]
    assert summary["E4"].value == pytest.approx(1 / 3) and summary["E4"].number_format == "0.0%"
    overview = book["总览"]
    assert [[c.value for c in row][:3] for row in overview.iter_rows(min_row=2)] == [
        [1, TWO, 3], [2, ONE, 6]]


def test_sheet_titles_are_valid_and_distinct():
    assert reports.sheet_title("第一[综合]/财务*支部") == "汇总-第一_综合__财务_支部"
    long = "很" * 40
    assert len(reports.sheet_title(long)) == 31


# --- the command line --------------------------------------------------------------------------

def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "cli.db"}"\n\n[content]\npath = "{CONTENT}"\n',
                    encoding="utf-8")
    return path


@pytest.fixture
def cli_config(tmp_path, clock):
    config = write_config(tmp_path)
    services = build_services(load_config(config), clock)
    seed(services)
    services.store.close()
    return config


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "report", "month", *args])


def test_cli_csv_to_stdout(cli_config):
    result = run(cli_config, "2026-11")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == reports.HEADER and len(rows) == 1 + len(EXPECTED)


def test_cli_csv_file_has_a_bom_and_branch_filter(cli_config, tmp_path):
    out = tmp_path / "out" / "r.csv"
    out.parent.mkdir()
    result = run(cli_config, "2026-11", "--branch", TWO, "--out", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["陈静", "杨帆", "赵磊"]
    assert list(out.parent.iterdir()) == [out]  # no temporary file left beside it


def test_cli_xlsx(cli_config, tmp_path):
    out = tmp_path / "r.xlsx"
    result = run(cli_config, "2026-11", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "9 人" in result.stderr
    assert load_workbook(out).sheetnames[:2] == ["总览", "明细"]


@pytest.mark.parametrize("args, message", [
    (("2026-13",), "月份格式不对"),
    (("november",), "月份格式不对"),
    (("2026-11", "--branch", "第九党支部"), "没有名为「第九党支部」的支部"),
    (("2026-11", "--format", "xlsx"), "XLSX 需要指定文件"),
    (("2026-11", "--format", "pdf"), "'pdf' is not one of"),
])
def test_cli_bad_input_is_one_clear_line(cli_config, args, message):
    result = run(cli_config, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output and result.stdout.count("\n") <= 3


def test_cli_unwritable_out_leaves_nothing(cli_config, tmp_path):
    missing_dir = tmp_path / "no-such-dir" / "r.xlsx"
    result = run(cli_config, "2026-11", "--format", "xlsx", "--out", str(missing_dir))
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: 无法写入")
    assert len(result.output.strip().splitlines()) == 1
    assert not missing_dir.parent.exists()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = run(cli_config, "2026-11", "--out", str(folder))
    assert result.exit_code == 1 and "这是一个文件夹" in result.output
    # A parent that is a file (the tests run as root, so a read-only folder would not refuse).
    a_file = tmp_path / "a-file"
    a_file.write_text("keep", encoding="utf-8")
    result = run(cli_config, "2026-11", "--out", str(a_file / "r.csv"))
    assert result.exit_code == 1 and "无法写入" in result.output
    assert a_file.read_text(encoding="utf-8") == "keep"


def test_an_existing_report_is_replaced_whole(cli_config, tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old", encoding="utf-8")
    assert run(cli_config, "2026-11", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8-sig").startswith("支部,党小组,姓名")


# --- the benchmark, small, so it cannot rot ------------------------------------------------------

def test_report_bench_runs_small_and_agrees_with_the_naive_count(tmp_path, capsys):
    from bench import report as bench_report
    from bot.store import Store

    plan = bench_report.Plan(members=40, checkins=2000, runs=1, naive_runs=1)
    store = Store(tmp_path / "bench.db")
    try:
        counts = bench_report.build(store, plan)
        assert counts["members"] == 40 and counts["checkins"] == 2000
        result = reports.month_report(store.db, bench_report.MONTH, today=ENDED)
        naive = {row[0]: row for row in bench_report.naive_report(store.db, bench_report.MONTH)}
    finally:
        store.close()
    assert len(result.rows) == 40 and any(r.missing for r in result.rows)
    for row in result.rows:
        _id, checkin_days, (attempts, correct), missing, streak = naive[row.member_id]
        assert (row.checkin_days, row.quiz_attempts, row.quiz_correct or None) == (
            checkin_days, attempts, correct or None)
        assert row.missing == missing and row.months_missed == streak
    assert bench_report.run(plan) == 0
    out = capsys.readouterr().out
    assert "| `month_report` (bulk SQL, one pass) |" in out and "tracemalloc peak" in out
    # The CLI ran in a child process and reported its own peak memory.
    assert re.search(r"VmHWM of the child process\): \*\*[1-9]\d* MB", out), out
