"""The agreement is generated from the recorded facts: open the .docx and the .pdf and read them."""

from __future__ import annotations

import io
import re

import pypdf
import pytest
from docx import Document

from pingan.errors import Conflict
from pingan.mediation import documents, service

from .helpers import DESK, T0, dispute_in, to_agreed


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_docx_and_pdf_carry_parties_facts_terms_and_performance(session) -> None:  # type: ignore[no-untyped-def]
    m = service.add_mediator(session, "李勇", "mediator", "长安街道人民调解委员会", "430682001")
    d = service.register_dispute(session, dispute_in(mediator_id=m.id), DESK, T0)
    with pytest.raises(Conflict):
        documents.agreement_docx(d, m)  # no agreement yet
    at = to_agreed(session, d)
    assert d.agreement is not None
    due = d.agreement["performance_deadline"]
    y, mo, da = (int(x) for x in due.split("-"))
    due_zh = f"{y}年{mo}月{da}日"

    doc = Document(io.BytesIO(documents.agreement_docx(d, m)))
    text = "\n".join(p.text for p in doc.paragraphs)
    for needle in ["人民调解协议书", d.code, "申请人：张建国", "被申请人：李秀英", "430682197001011234",
                   "滴水檐越界约 30 厘米", "1. 李秀英于履行期限内将滴水檐改向，不再越界", "2. 张建国不再主张其他赔偿",
                   "履行方式：李秀英自行施工，张建国配合", due_zh, "人民调解员（签名）：李勇", "长安街道人民调解委员会",
                   "三十日内共同向人民法院申请司法确认"]:  # fmt: skip
        assert needle in text, needle

    reader = pypdf.PdfReader(io.BytesIO(documents.agreement_pdf(d, m)))
    pdf_text = _squash("".join(page.extract_text() for page in reader.pages))
    for needle in ["人民调解协议书", "申请人：张建国", "被申请人：李秀英", "李秀英于履行期限内将滴水檐改向，不再越界",
                   "张建国不再主张其他赔偿", "李秀英自行施工", due_zh, "李勇"]:  # fmt: skip
        assert _squash(needle) in pdf_text, needle
    assert at > T0


def test_reconciliation_agreement_title(session) -> None:  # type: ignore[no-untyped-def]
    d = service.register_dispute(
        session, dispute_in(dispute_type="婚姻家庭", center="marriage:430621", family_kind="divorce"), DESK, T0
    )
    to_agreed(session, d, outcome="和好")
    text = "\n".join(p.text for p in Document(io.BytesIO(documents.agreement_docx(d, None))).paragraphs)
    assert "人民调解协议书（和好）" in text and "调解组织（印章）" in text


def test_upload_checks_content(session) -> None:  # type: ignore[no-untyped-def]
    from pingan.errors import Invalid

    d = service.register_dispute(session, dispute_in(), DESK, T0)
    with pytest.raises(Invalid) as bad:
        service.upload_document(session, d.id, "signed_agreement", "x.pdf", b"not a pdf at all", DESK, T0)
    assert bad.value.code == "document_type"
    doc = service.upload_document(session, d.id, "signed_agreement", "scan.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20,
                                  DESK, T0)  # fmt: skip
    assert doc.mime == "image/png" and len(doc.sha256) == 64
