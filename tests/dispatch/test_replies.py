"""答复草稿: drafts from the most similar past replies (messages_replies.csv), never sent."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.cases import service
from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.dispatch import replies
from pingan.notify.models import OutboxMessage
from pingan.orgs.roles import Role
from tests.helpers import act, dep_id

T0 = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)


def test_nearest_past_reply_first_with_source_and_similarity() -> None:
    items = replies.read_replies()
    assert len(items) > 2000 and all(len(i.reply) >= replies.MIN_REPLY_CHARS for i in items)
    src = items[123]
    drafts = replies.suggest_reply(None, src.subject, src.detail, k=3)
    assert len(drafts) == 3
    assert drafts[0]["source_message_id"] == src.message_id and drafts[0]["source_subject"] == src.subject
    assert drafts[0]["similarity"] > 0.95
    sims = [d["similarity"] for d in drafts]
    assert sims == sorted(sims, reverse=True) and all(0 < s <= 1.0001 for s in sims)
    assert drafts[0]["replied_at"] == src.replied_at


def test_k_and_empty_text() -> None:
    assert len(replies.suggest_reply(None, "小区噪音扰民", "夜间施工噪音扰民", k=5)) == 5
    assert replies.suggest_reply(None, "", "？！", k=3) == []
    assert replies.suggest_reply(None, "小区噪音扰民", "夜间施工噪音", k=0) == []


def test_draft_carries_the_new_title_and_not_the_old_user() -> None:
    past = replies.PastReply(
        message_id="1",
        user="UU0082370",
        subject="投诉K9县同兴物流扰民",
        detail="",
        reply="“UU0082370”您好。您反映的“投诉K9县同兴物流扰民”问题已收悉，现回复如下：已责令整改。",
        replied_at="2019/5/9",
    )
    draft = replies.adapt(past, "岳阳楼区某物流园夜间噪音扰民")
    assert "UU0082370" not in draft and "同兴物流" not in draft
    assert "“岳阳楼区某物流园夜间噪音扰民”" in draft and draft.endswith("已责令整改。")


def test_other_file_is_its_own_index(tmp_path: Path) -> None:
    f = tmp_path / "replies.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"])
        at = "2019/1/1 1:00:00"
        w.writerow(["9", "U9", "路灯不亮", at, "学校路口路灯坏了", "网友您好！" + "路灯已修复。" * 10, "2019/1/2"])
        w.writerow(["8", "U8", "垃圾清运", at, "小区垃圾无人清运", "您好" + "已清运。" * 10, "2019/1/2"])
        w.writerow(["7", "U7", "短答复", at, "路灯", "已收悉", "2019/1/2"])
    got = replies.suggest_reply(None, "学校门口路灯坏了", "路灯不亮", k=3, path=f)
    assert [d["source_message_id"] for d in got] == ["9"]  # the other shares nothing; the short one is skipped


def test_api_reply_drafts_are_returned_never_sent(api: Any, session: Session, db: Any) -> None:
    with db.session() as tx:
        case = Case(
            channel="hotline_12345",
            external_id="RD-1",
            case_type="投诉",
            title="小区旁搅拌站噪音扰民",
            content="小区旁边的搅拌站晚上施工噪音很大，粉尘污染严重",
            region_code="430602",
            county_code="430602",
            received_at=T0,
            extra={},
            departments=[],
        )
        cid = service.open_case(tx, case, Actor(id=None, name="坐席", role=Role.OPERATOR), T0, {})[0].id
        tx.commit()
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    r = api.get("paiqian", f"/api/v1/cases/{cid}/reply-drafts?k=2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sent"] is False and len(body["drafts"]) == 2 and body["drafts"][0]["draft"]
    assert "搅拌" in body["drafts"][0]["source_subject"] + body["drafts"][1]["source_subject"]
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before  # nothing was sent
    # the department can draft once the case is theirs; before that it cannot even see it
    assert api.get("chengguan", f"/api/v1/cases/{cid}/reply-drafts").status_code == 404
    act(api, "zuoxi", cid, "register")
    act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
    assert api.get("chengguan", f"/api/v1/cases/{cid}/reply-drafts").status_code == 200
    assert api.get("lingdao", f"/api/v1/cases/{cid}/reply-drafts").status_code == 403
    assert api.get("paiqian", f"/api/v1/cases/{cid}/reply-drafts?k=0").status_code == 422
