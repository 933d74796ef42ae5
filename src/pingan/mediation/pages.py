"""HTML pages of the mediation module: a dashboard (/mediation) and a dispute page (/mediation/disputes/{id}).

They extend the web package's base template and read through the same functions as the API; parties are
masked; every figure shows its definition and numerator/denominator.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from pingan.deps import SessionDep
from pingan.errors import NotFound
from pingan.mediation import lifecycle, rota, service, stats
from pingan.mediation.lifecycle import D_LABELS
from pingan.mediation.models import Dispute, DisputeEvent
from pingan.mediation.policies import RISK_LABELS
from pingan.mediation.seed import MARRIAGE_CENTER
from pingan.mediation.views import _in_scope, _scope_region, dispute_out
from pingan.orgs.roles import ROLE_LABELS, Role
from pingan.timeutil import CST, utcnow
from pingan.web import i18n
from pingan.web import pages as web
from pingan.web.auth import page_user

HERE = Path(__file__).resolve().parent
router = APIRouter(include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(web.HERE / "templates")]),
    autoescape=select_autoescape(["html"]),
)
env.filters["local"] = lambda dt: dt.astimezone(CST).strftime("%Y-%m-%d %H:%M") if dt else "—"


def _render(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    lang = web.lang_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = env.get_template(name).render(
        _=i18n.translator(lang),
        lang=lang,
        here=here,
        here_q=quote(here),
        features=web.features(request),
        role_labels=ROLE_LABELS,
        d_labels=D_LABELS,
        risk_labels=RISK_LABELS,
        **ctx,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/mediation", response_class=HTMLResponse)
@web.page
def dashboard(request: Request, session: SessionDep) -> Response:
    user, actor = page_user(request, session)
    region = _scope_region(actor, None)
    now = utcnow()
    base = select(Dispute)
    if region:
        base = base.where(Dispute.region_code.startswith(region))
    open_states = [str(s) for s in lifecycle.D_OPEN]
    high = session.scalars(
        base.where(Dispute.status.in_(open_states), Dispute.risk_level == "high")
        .order_by(Dispute.registered_at.desc())
        .limit(20)
    ).all()
    overdue = session.scalars(
        base.where(
            Dispute.status.in_([str(s) for s in lifecycle.D_IN_MEDIATION]), Dispute.deadline_at < now
        ).order_by(Dispute.deadline_at)
        .limit(20)
    ).all()  # fmt: skip
    recent = session.scalars(base.order_by(Dispute.registered_at.desc()).limit(15)).all()
    today = service.local_date(now)
    duty = rota.rota(session, MARRIAGE_CENTER, today, today + timedelta(days=10))[:5]
    pet = stats.petitions(session, region)
    return _render(
        request,
        "mediation.html",
        user=user,
        nav="mediation",
        disputes=stats.disputes(session, region, now=now),
        center=stats.center(session, MARRIAGE_CENTER),
        petitions=pet["figures"],
        by_form=pet["by_form"],
        backlog=stats.backlog(session, region),
        mediators=stats.mediators(session, region)[:10],
        high=high,
        overdue=overdue,
        recent=recent,
        duty=duty,
        center_key=MARRIAGE_CENTER,
    )


@router.get("/mediation/disputes/{dispute_id}", response_class=HTMLResponse)
@web.page
def dispute_page(request: Request, session: SessionDep, dispute_id: int) -> Response:
    user, actor = page_user(request, session)
    d = service.get_dispute(session, dispute_id)
    if not _in_scope(actor, d.region_code):
        raise NotFound("dispute_not_found", f"纠纷 {dispute_id} 不存在", f"dispute {dispute_id} not found")
    events = session.scalars(select(DisputeEvent).where(DisputeEvent.dispute_id == d.id).order_by(DisputeEvent.seq))
    return _render(
        request,
        "dispute.html",
        user=user,
        nav="mediation",
        d=dispute_out(session, d),
        events=list(events),
        can_download=actor.role in (Role.MEDIATOR, Role.DISPATCHER, Role.ADMIN) and d.agreement is not None,
        actions=[t.label for t in lifecycle.available(lifecycle.DISPUTE_TABLE, d.status, actor.role)],
    )
