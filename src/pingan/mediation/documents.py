"""The people's mediation agreement (人民调解协议书) as .docx and .pdf, generated from the recorded facts.

人民调解法第二十九条: the agreement states the parties' basic information, the main facts and disputed
matters, the agreed terms, and the manner and time of performance; it is signed (or fingerprinted) by the
parties and the mediator, and stamped by the mediation committee.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from pingan.errors import Conflict
from pingan.mediation.models import Dispute, Mediator
from pingan.timeutil import to_cst

# A CID font every PDF reader has (Adobe-GB1): nothing to ship, nothing to download.
PDF_FONT = "STSong-Light"
_FIXED_DOCX_TIME = "2000-01-01T00:00:00"


@dataclass(frozen=True)
class Section:
    heading: str
    lines: list[str]


@dataclass(frozen=True)
class AgreementText:
    title: str
    number: str
    sections: list[Section]
    signatures: list[str]


def _d(value: date | str) -> str:
    v = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{v.year}年{v.month}月{v.day}日"


def agreement_text(d: Dispute, mediator: Mediator | None) -> AgreementText:
    """The agreement's content, the same for both formats."""
    if d.agreement is None:
        raise Conflict("no_agreement", "该纠纷尚未达成协议", "the dispute has no agreement yet")
    a = d.agreement
    parties = []
    for p in d.parties:
        bits = [f"{p.role}：{p.name}"]
        if p.id_number:
            bits.append(f"身份证号码：{p.id_number}")
        if p.phone:
            bits.append(f"联系电话：{p.phone}")
        if p.address:
            bits.append(f"住址：{p.address}")
        if p.minor:
            bits.append("（未成年人）")
        parties.append("，".join(bits))
    terms = [f"{i}. {t}" for i, t in enumerate(a["terms"], start=1)]
    performance = [
        f"履行方式：{a['performance_manner']}",
        f"履行期限：{_d(a['performance_deadline'])}前履行完毕。",
    ]
    closing = [
        "本协议经各方当事人签名（盖章或按指印）、人民调解员签名并加盖调解组织印章之日起生效。",
        "各方当事人可以自本协议生效之日起三十日内共同向人民法院申请司法确认。",
        "本协议一式" + f"{len(d.parties) + 1}份，各方当事人、调解组织各执一份。",
    ]
    agreed = to_cst(d.agreed_at).date() if d.agreed_at else None
    org = d.organisation or (mediator.organisation if mediator else "")
    return AgreementText(
        title="人民调解协议书" if a.get("outcome") != "和好" else "人民调解协议书（和好）",
        number=f"编号：{d.code}",
        sections=[
            Section("当事人", parties),
            Section("纠纷主要事实、争议事项", [a["facts"]]),
            Section("经调解，自愿达成如下协议", terms),
            Section("履行方式与期限", performance),
            Section("其他", closing),
        ],
        signatures=[
            *[f"{p.role}（签名）：{p.name}" for p in d.parties],
            f"人民调解员（签名）：{mediator.name if mediator else ''}",
            f"调解组织（印章）：{org}",
            f"日期：{_d(agreed) if agreed else ''}",
        ],
    )


def agreement_docx(d: Dispute, mediator: Mediator | None) -> bytes:
    text = agreement_text(d, mediator)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.core_properties.title = text.title
    doc.core_properties.identifier = d.code
    doc.add_heading(text.title, level=0)
    doc.add_paragraph(text.number)
    for sec in text.sections:
        doc.add_heading(sec.heading, level=2)
        for line in sec.lines:
            doc.add_paragraph(line)
    doc.add_paragraph("")
    for line in text.signatures:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _font() -> str:
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def agreement_pdf(d: Dispute, mediator: Mediator | None) -> bytes:
    text = agreement_text(d, mediator)
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=18, wordWrap="CJK")
    head = ParagraphStyle("head", parent=body, fontSize=13, leading=22, spaceBefore=8)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=28, alignment=1)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=25 * mm, bottomMargin=20 * mm,
        title=text.title, subject=d.code, invariant=True,
    )  # fmt: skip
    story = [Paragraph(text.title, title), Paragraph(text.number, body), Spacer(1, 6)]
    for sec in text.sections:
        story.append(Paragraph(sec.heading, head))
        story.extend(Paragraph(_esc(line), body) for line in sec.lines)
    story.append(Spacer(1, 18))
    story.extend(Paragraph(_esc(line), body) for line in text.signatures)
    doc.build(story)
    return buf.getvalue()


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
