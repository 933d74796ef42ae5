"""HTTP API of personal-information controls: unmasking, exports, and photo uploads."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pingan.cases import queries
from pingan.cases.actors import Actor
from pingan.cases.models import Attachment, CaseEvent
from pingan.deps import ActorDep, SessionDep, get_settings
from pingan.errors import Forbidden, NotFound
from pingan.intake.views import PUBLIC
from pingan.orgs.roles import Role
from pingan.security import events, pii, uploads
from pingan.security.http import client_ip
from pingan.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["privacy 个人信息"])


class UnmaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=4, max_length=500, description="why the full data is needed (logged)")


class UnmaskOut(BaseModel):
    case_id: int
    caller_name: str | None
    caller_phone: str | None
    caller_id_number: str | None


@router.post(
    "/cases/{case_id}/unmask",
    response_model=UnmaskOut,
    summary="查看完整个人信息 Unmask the caller (needs permission and a reason; logged)",
)
def unmask(case_id: int, body: UnmaskIn, request: Request, session: SessionDep, actor: ActorDep) -> UnmaskOut:
    case = queries.visible_case(session, actor, case_id)
    out = pii.unmask(session, case, actor, body.reason, client_ip(request))
    session.commit()
    return UnmaskOut(**out.__dict__)


EXPORT_COLUMNS = [
    "tracking_code",
    "channel",
    "case_type",
    "title",
    "address",
    "county_code",
    "town_code",
    "grid_code",
    "category",
    "status_label",
    "caller_name",
    "caller_phone",
    "received_at",
    "deadline_at",
    "closed_at",
    "overdue",
    "satisfaction",
]
EXPORT_MAX = 50_000


def _cell(value: Any) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # A cell that a spreadsheet would run as a formula is prefixed (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(
    "/exports/cases.csv",
    summary="导出案件 Export the cases this account may see (masked, logged)",
    response_class=Response,
)
def export_cases(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[str] | None, Query(max_length=20)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    if actor.role == Role.CHANNEL:
        raise Forbidden("export_forbidden", "接口账号不能导出", "channel accounts may not export")
    buf = io.StringIO()
    buf.write("\ufeff")  # so that Excel opens UTF-8 Chinese correctly
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    n = 0
    page = 1
    while n < EXPORT_MAX:
        got = queries.list_cases(
            session, actor, status=status, since=since, until=until, page=page, page_size=200, sort="id"
        )
        for item in got.items:
            row = item.model_dump()
            w.writerow([_cell(row.get(c)) for c in EXPORT_COLUMNS])
            n += 1
        if page * 200 >= got.total or not got.items:
            break
        page += 1
    events.record_now(
        request,
        "export",
        actor_id=actor.id,
        actor_name=actor.name,
        ip=client_ip(request),
        target="cases.csv",
        data={
            "rows": n,
            "status": status,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
    )
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    return Response(
        buf.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pingan-cases-{stamp}.csv"'},
    )


class AttachmentOut(BaseModel):
    id: int
    sha256: str
    mime: str
    size: int
    metadata_removed: list[str] = []


async def _save(request: Request, session: Any, file: UploadFile, actor: Actor) -> AttachmentOut:
    data = await file.read(uploads.MAX_UPLOAD_BYTES + 1)
    img = uploads.check_image(data)
    uploads.store(get_settings(request).upload_dir, img)
    att = Attachment(
        sha256=img.sha256,
        mime=img.mime,
        size=len(img.data),
        filename=(file.filename or "")[:200],
        uploader_id=actor.id,
        created_at=utcnow(),
    )
    session.add(att)
    session.commit()
    return AttachmentOut(id=att.id, sha256=att.sha256, mime=att.mime, size=att.size, metadata_removed=img.removed)


@router.post(
    "/attachments",
    response_model=AttachmentOut,
    status_code=201,
    summary="上传照片 Upload a photo (JPEG/PNG, checked by content, metadata stripped)",
)
async def upload(request: Request, session: SessionDep, actor: ActorDep, file: UploadFile = File()) -> AttachmentOut:
    return await _save(request, session, file, actor)


@router.post(
    "/public/attachments",
    response_model=AttachmentOut,
    status_code=201,
    tags=["public 群众"],
    summary="群众上传照片 A resident uploads a photo for a report",
)
async def public_upload(request: Request, session: SessionDep, file: UploadFile = File()) -> AttachmentOut:
    return await _save(request, session, file, PUBLIC)


def _image(request: Request, att: Attachment) -> Response:
    path = get_settings(request).upload_dir / att.sha256[:2] / att.sha256
    if not path.exists():
        raise NotFound("attachment_missing", "附件文件不存在", "the attachment's file is missing")
    return Response(
        path.read_bytes(),
        media_type=att.mime,
        headers={"Content-Disposition": "inline", "Cache-Control": "private, max-age=3600"},
    )


def _not_found(attachment_id: int) -> NotFound:
    return NotFound("attachment_not_found", f"附件 {attachment_id} 不存在", f"attachment {attachment_id} not found")


@router.get("/attachments/{attachment_id}", response_class=Response, summary="查看自己上传的照片 A photo you uploaded")
def get_own_attachment(attachment_id: int, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    att = session.get(Attachment, attachment_id)
    if att is None or att.uploader_id is None or att.uploader_id != actor.id:
        raise _not_found(attachment_id)
    return _image(request, att)


@router.get(
    "/cases/{case_id}/attachments/{attachment_id}",
    response_class=Response,
    summary="案件照片 A photo of a case you may see",
)
def get_case_attachment(
    case_id: int, attachment_id: int, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    case = queries.visible_case(session, actor, case_id)
    ids: set[int] = set()
    for data in session.scalars(select(CaseEvent.data).where(CaseEvent.case_id == case.id)):
        for key in ("attachment_ids", "photo_ids"):
            ids.update(int(i) for i in (data or {}).get(key) or [] if str(i).isdigit())
    att = session.get(Attachment, attachment_id) if attachment_id in ids else None
    if att is None:
        raise _not_found(attachment_id)
    return _image(request, att)
