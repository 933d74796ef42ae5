"""GET /api/v1/cases/export.xlsx — the case list with the same filters as the list page, in the role's scope."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from sqlalchemy import select

from pingan.cases import lifecycle
from pingan.deps import ActorDep, SessionDep
from pingan.intake.adapters import CHANNEL_LABELS
from pingan.orgs.models import Department
from pingan.orgs.roles import Role
from pingan.privacy import mask_name, mask_phone
from pingan.web import data

router = APIRouter(tags=["cases 案件"])
# The path is /api/v1/cases/export.xlsx; the core router's /api/v1/cases/{case_id} matches it first
# unless this router is included before the core ones, so the same export is also served at
# /api/v1/export/cases.xlsx, which works whatever the order (the pages link there).
PATHS = ("/api/v1/cases/export.xlsx", "/api/v1/export/cases.xlsx")

MAX_ROWS = 50_000
HEADERS = [
    "编号 Code",
    "渠道 Channel",
    "外部编号 External id",
    "标题 Title",
    "状态 Status",
    "分类 Category",
    "县市区 County",
    "网格 Grid",
    "地址 Address",
    "承办部门 Department",
    "受理时间 Received",
    "办理时限 Deadline",
    "结案时间 Closed",
    "超期 Overdue",
    "退单次数 Returns",
    "返工次数 Rework",
    "满意度 Satisfaction",
    "来电人 Caller",
    "电话 Phone",
]


def _safe_cell(value: object) -> object:
    """Text a worksheet can hold (no control characters) and will not run as a formula (CSV/XLSX injection)."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = str(ILLEGAL_CHARACTERS_RE.sub("", value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _naive(dt: object) -> object:
    if dt is None:
        return None
    return dt.astimezone(data.CST).replace(tzinfo=None)  # type: ignore[attr-defined]


def export_xlsx(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[str] | None, Query(max_length=20)] = None,
    channel: Annotated[str, Query(max_length=20)] = "",
    region: Annotated[str, Query(max_length=15)] = "",
    department_id: Annotated[int | None, Query(ge=1)] = None,
    category: Annotated[str, Query(max_length=20)] = "",
    overdue: Annotated[str, Query(pattern=r"^[01]?$")] = "",
    queue: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    kpi: Annotated[str, Query(max_length=30)] = "",
    part: Annotated[str, Query(pattern=r"^(numerator|denominator)?$")] = "",
    by: Annotated[str, Query(max_length=20)] = "",
    group: Annotated[str, Query(max_length=20)] = "",
    sort: Annotated[str, Query(max_length=20)] = "-received_at",
) -> Response:
    f = data.Filters(
        status=status or [],
        channel=channel,
        region=region,
        department_id=department_id,
        category=category,
        overdue=overdue,
        queue=queue,
        since=since,
        until=until,
        q=q,
        kpi=kpi,
        part=part,
        by=by,
        group=group,
        sort=sort if sort in data.SORTS else "-received_at",
        page=1,
        page_size=MAX_ROWS,
    )
    rows, _ = data.case_page(session, actor, f, count=False)
    names = dict(session.execute(select(Department.id, Department.name)).all())
    hide = actor.role not in (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("案件 Cases")
    ws.append(HEADERS)
    from pingan.timeutil import utcnow

    now = utcnow()
    for c in rows:
        overdue_now = bool(c.status in lifecycle.WITH_DEPARTMENT and c.deadline_at and c.deadline_at < now)
        hidden = hide and c.confidential
        ws.append(
            [
                _safe_cell(v)
                for v in [
                    c.tracking_code,
                    CHANNEL_LABELS.get(c.channel, c.channel),
                    c.external_id,
                    c.title,
                    lifecycle.STATUS_LABELS.get(c.status, c.status),
                    c.category or "",
                    c.county_code,
                    c.grid_code or "",
                    c.address,
                    names.get(c.department_id, "") if c.department_id else "",
                    _naive(c.received_at),
                    _naive(c.deadline_at),
                    _naive(c.closed_at),
                    "是" if overdue_now else "否",
                    c.return_count,
                    c.rework_count,
                    c.satisfaction or "",
                    "" if hidden else (mask_name(c.caller_name) or ""),
                    "" if hidden else (mask_phone(c.caller_phone) or ""),
                ]
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    from pingan.security import events  # exports join the security-event log (issue 4)

    events.record_now(
        request, "export", actor_id=actor.id, actor_name=actor.name, target="cases.xlsx", data={"rows": len(rows)}
    )
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=cases.xlsx", "Cache-Control": "no-store"},
    )


for _path in PATHS:
    router.add_api_route(
        _path,
        export_xlsx,
        methods=["GET"],
        summary="导出案件 Export the filtered case list as xlsx (at most 50,000 rows)",
        response_class=Response,
        responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
        operation_id="export_cases_xlsx" if _path == PATHS[0] else "export_cases_xlsx_alias",
    )
