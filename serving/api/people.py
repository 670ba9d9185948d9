"""People routes: who am I; admins list, create and deactivate the organization's users."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import CurrentClient, require
from serving.db import transaction
from serving.orgs.service import Role
from serving.people import service
from serving.people.models import User
from serving.queue.staff import deactivate_user

#: an ISO 3166 code as create_user takes it: any case, surrounding spaces stripped
_JURISDICTION = r"^\s*[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?\s*$"

router = APIRouter(prefix="/v1", tags=["people"], responses=errors(*AUTHENTICATED))


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    jurisdictions: list[str]
    created_at: datetime
    active: bool


class MeOut(BaseModel):
    organization: str = Field(description="The organization's slug.")
    key_role: str
    user: UserOut | None = Field(description="The person the key belongs to (null for intake keys).")


class UserIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # a dermatologist is licensed somewhere (service.create_user), for clients reading the document
        json_schema_extra={
            "anyOf": [
                {"properties": {"role": {"const": "admin"}}},
                {
                    "properties": {"role": {"const": "dermatologist"}, "jurisdictions": {"minItems": 1}},
                    "required": ["jurisdictions"],
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Blank is refused.")
    role: service.UserRole
    jurisdictions: list[str] = Field(
        default_factory=list,
        max_length=100,
        json_schema_extra={"items": {"type": "string", "pattern": _JURISDICTION}},  # checked by create_user
        description="ISO 3166 codes (upper-cased on the way in), e.g. ['US-CA', 'US-NY']; a dermatologist "
        "needs at least one.",
    )


class CreatedUserOut(BaseModel):
    user: UserOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        role=user.role,
        jurisdictions=list(user.jurisdictions or []),
        created_at=user.created_at,
        active=user.active,
    )


@router.get("/me", response_model=MeOut, summary="The caller: organization, key role, and user")
def me(request: Request, client: CurrentClient) -> MeOut:
    user = None
    if client.user_id:
        with transaction(request.app.state.sessions) as session:
            user = session.get(User, client.user_id)
    return MeOut(
        organization=client.organization.slug,
        key_role=client.role.value,
        user=user_out(user) if user else None,
    )


@router.get(
    "/users", response_model=list[UserOut], responses=errors(403), summary="Admin: the organization's users"
)
def list_users(request: Request, client: CurrentClient) -> list[UserOut]:
    require(client, Role.admin)
    with transaction(request.app.state.sessions) as session:
        return [user_out(u) for u in service.list_users(session, org=client.organization)]


@router.post(
    "/users",
    response_model=CreatedUserOut,
    status_code=201,
    responses=errors(*WITH_BODY, 403),
    summary="Admin: create a user and key",
)
def create_user(body: UserIn, request: Request, client: CurrentClient):
    require(client, Role.admin)
    with transaction(request.app.state.sessions) as session:
        issued = service.create_user(
            session,
            org=client.organization,
            name=body.name,
            role=body.role,
            jurisdictions=body.jurisdictions,
            actor=client.actor,
        )
        out = CreatedUserOut(user=user_out(issued.user), api_key=issued.key)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Cache-Control": "no-store", "Location": f"/v1/users/{issued.user.id}"},
    )


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    responses=errors(403, 404),
    summary="Admin: revoke a user's keys; the cases they hold go back to the queue",
)
def deactivate(user_id: str, request: Request, client: CurrentClient) -> UserOut:
    require(client, Role.admin)
    with transaction(request.app.state.sessions) as session:
        return user_out(
            deactivate_user(session, org=client.organization, user_id=user_id, actor=client.actor)
        )
