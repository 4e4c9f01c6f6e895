"""bot/console/regulation_import.py: upload -> preview -> confirm, without HTTP."""

from __future__ import annotations

import pytest

from bot.console import regulation_import as ri
from bot.regulations import MAX_FILE_BYTES
from tests.paths import REGULATIONS

JLCF = REGULATIONS / "中国共产党纪律处分条例_2023.md"
LJZL = REGULATIONS / "中国共产党廉洁自律准则.md"


def count_readings(services, source: str) -> int:
    return services.store.db.execute("SELECT count(*) FROM readings WHERE source = ?",
                                     [source]).fetchone()[0]


def test_real_regulation_previews_and_confirm_writes_exactly_that(services) -> None:
    data = JLCF.read_bytes()
    parsed = ri.parse_upload(JLCF.name, data)
    assert len(parsed.articles) == 158
    source, version = ri.check_names(parsed, "", "")
    assert (source, version) == ("中国共产党纪律处分条例", "2023")
    pending = ri.hold(services, filename=JLCF.name, data=data, parsed=parsed, source=source,
                      version=version, owner=1)
    loaded = ri.load(services, pending.token, owner=1)
    assert loaded.data == data and loaded.digest == ri.articles_digest(parsed)
    imported_before = services.store.db.execute(
        "SELECT count(*) FROM readings WHERE origin = 'import'").fetchone()[0]
    report = ri.confirm(services, loaded, actor="console:admin")
    assert report.articles == 158
    rows = services.store.db.execute(
        "SELECT article_no, body FROM readings WHERE origin = 'import' AND source = ?"
        " AND version = '2023' ORDER BY id", [source]).fetchall()
    assert [r[0] for r in rows] == [a.article_no for a in parsed.articles]
    assert [r[1] for r in rows] == [a.body for a in parsed.articles]
    assert imported_before == 0
    audit = services.store.db.execute("SELECT actor, action FROM audit").fetchall()
    assert ("console:admin", "regulation import") in audit
    assert count_readings(services, source) >= 158
    # the upload is gone: a second confirm cannot import twice
    with pytest.raises(ri.ImportProblem, match="已过期或已导入"):
        ri.load(services, pending.token, owner=1)


def test_confirm_refuses_when_the_split_differs_from_the_preview(services) -> None:
    data = LJZL.read_bytes()
    parsed = ri.parse_upload(LJZL.name, data)
    pending = ri.hold(services, filename=LJZL.name, data=data, parsed=parsed,
                      source="中国共产党廉洁自律准则", version="2015", owner=1)
    tampered = ri.Pending(pending.token, pending.filename, data, pending.source,
                          pending.version, "0" * 64, pending.owner)
    with pytest.raises(ri.ImportProblem, match="不一致"):
        ri.confirm(services, tampered, actor="console:admin")
    assert services.store.db.execute(
        "SELECT count(*) FROM readings WHERE origin = 'import'").fetchone()[0] == 0


def test_pending_upload_belongs_to_its_owner_and_expires(services, clock) -> None:
    data = LJZL.read_bytes()
    parsed = ri.parse_upload(LJZL.name, data)
    pending = ri.hold(services, filename=LJZL.name, data=data, parsed=parsed, source="准则",
                      version="2015", owner=1)
    with pytest.raises(ri.ImportProblem, match="不是您上传的"):
        ri.load(services, pending.token, owner=2)
    clock.advance(seconds=ri.PENDING_SECONDS + 1)
    with pytest.raises(ri.ImportProblem, match="已过期"):
        ri.load(services, pending.token, owner=1)
    with pytest.raises(ri.ImportProblem):
        ri.load(services, "", owner=1)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "空的"),
    (b"x" * (MAX_FILE_BYTES + 1), "超过"),
    ("第一条 内容".encode("utf-16"), "UTF-16"),
    (b"%PDF-1.4\x00\x01\x02binary", "二进制"),
    (b"   \n\t\n", "只有空白"),
    ("这是一封普通的信。\n没有任何条文。\n".encode(), "没有找到任何条文"),
    ("第一条为了加强管理。\n第二条本办法。\n".encode(), "连在一起"),
    ("第一条 甲。\n第三条 乙。\n第二条 丙。\n".encode(), "条号必须依次递增"),
    ("Règlement intérieur".encode("latin-1"), "编码"),
])
def test_bad_uploads_are_refused_in_chinese(data: bytes, reason: str) -> None:
    with pytest.raises(ri.ImportProblem, match=reason):
        ri.parse_upload("x.txt", data)


def test_names_are_required_and_checked() -> None:
    parsed = ri.parse_upload("无题.txt", "第一条 甲。\n第二条 乙。\n".encode())
    assert parsed.title is None
    with pytest.raises(ri.ImportProblem, match="法规名称"):
        ri.check_names(parsed, "", "2020")
    with pytest.raises(ri.ImportProblem, match="版本年份"):
        ri.check_names(parsed, "某某规定", "")
    with pytest.raises(ri.ImportProblem, match="四位年份"):
        ri.check_names(parsed, "某某规定", "二〇二〇")
    with pytest.raises(ri.ImportProblem, match="最多"):
        ri.check_names(parsed, "规" * 61, "2020")
    assert ri.check_names(parsed, "  某某  规定 ", "2020") == ("某某 规定", "2020")


def test_upload_name_cannot_escape_the_temporary_folder() -> None:
    assert ri._safe_name("../../etc/passwd") == "passwd"
    assert ri._safe_name("C:\\x\\纪律处分条例_2023.md") == "纪律处分条例_2023.md"
    assert ri._safe_name("") == "upload.txt"
    assert ri._safe_name("..") == "upload.txt"
