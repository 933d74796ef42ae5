"""HTTP API of accounts and departments: login, logout, password change, who am I, departments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pingan.deps import SessionDep, UserDep, require_roles
from pingan.orgs import service
from pingan.orgs.models import Department
from pingan.orgs.roles import ROLE_LABELS, Role
from pingan.security import events
from pingan.security.http import client_ip

router = APIRouter(prefix="/api/v1", tags=["accounts 账号"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    otp: str | None = Field(default=None, max_length=10, description="动态口令 TOTP code, when the account has one")


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    region_code: str
    department_id: int | None
    channel: str | None
    must_change_password: bool


class LoginOut(BaseModel):
    token: str
    user: MeOut


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


def me_out(user: Any) -> MeOut:
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        role_label=ROLE_LABELS[Role(user.role)],
        region_code=user.region_code,
        department_id=user.department_id,
        channel=user.channel,
        must_change_password=user.must_change_password,
    )


@router.post("/auth/login", response_model=LoginOut, summary="登录 Log in")
def login(body: LoginIn, request: Request, response: Response, session: SessionDep) -> LoginOut:
    token, user = service.login(session, body.username, body.password, otp=body.otp, ip=client_ip(request))
    session.commit()
    response.set_cookie("pingan_token", token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return LoginOut(token=token, user=me_out(user))


@router.post("/auth/logout", status_code=204, summary="退出 Log out")
def logout(
    request: Request, session: SessionDep, user: UserDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    token = (
        authorization[7:].strip()
        if authorization and authorization.lower().startswith("bearer ")
        else request.cookies.get("pingan_token", "")
    )
    service.revoke(session, token)
    events.record(session, "logout", actor_id=user.id, actor_name=user.username, ip=client_ip(request))
    session.commit()
    resp = Response(status_code=204)
    resp.delete_cookie("pingan_token")
    return resp


@router.get("/me", response_model=MeOut, summary="当前用户 Who am I")
def me(user: UserDep) -> MeOut:
    return me_out(user)


@router.post("/auth/password", status_code=204, summary="修改密码 Change password")
def change_password(body: PasswordIn, request: Request, session: SessionDep, user: UserDep) -> Response:
    service.change_password(session, user, body.old_password, body.new_password, ip=client_ip(request))
    session.commit()
    return Response(status_code=204)


class DepartmentOut(BaseModel):
    id: int
    code: str
    name: str
    short_name: str
    region_code: str
    parent_id: int | None


@router.get(
    "/departments",
    response_model=list[DepartmentOut],
    summary="部门 Departments",
    dependencies=[require_roles(*[r for r in Role if r != Role.CHANNEL])],
)
def departments(
    session: SessionDep, region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None
) -> list[DepartmentOut]:
    q = select(Department).where(Department.active.is_(True)).order_by(Department.id)
    if region:
        q = q.where(Department.region_code == region)
    return [
        DepartmentOut(
            id=d.id, code=d.code, name=d.name, short_name=d.short_name, region_code=d.region_code, parent_id=d.parent_id
        )
        for d in session.scalars(q)
    ]
