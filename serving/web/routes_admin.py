"""Admins: the organization's users (create, licences, deactivate), their sign-in names and passwords,
and the cases waiting on the patient. Every change goes through the people service the CLI and the
API use (``create_user``, ``set_licences``, ``serving.queue.staff.deactivate_user``), audited there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from serving.audit import record
from serving.db import transaction, utcnow
from serving.errors import DomainError
from serving.people.service import UserNotFound, create_user, get_user, list_users, set_licences
from serving.queue.staff import deactivate_user
from serving.web.auth_web import CheckedUser, CurrentUser, WebUser
from serving.web.forms import FormProblem
from serving.web.models import UserCredential
from serving.web.passwords import PasswordError, set_password
from serving.web.rendering import render
from serving.web.waiting_view import waiting_on_patient

router = APIRouter(include_in_schema=False)

DID = {
    "deactivated": "User deactivated: they can no longer sign in, their API keys are revoked and the "
    "cases they held are back in the queue.",
    "licences": "Licences saved: the cases that user sees follow at once.",
}


def _forbidden(request: Request, user: WebUser):
    return render(
        request,
        "error.html",
        {"title": "Admins only", "message": "Only an administrator of your organization sees this page."},
        status_code=403,
        user=user,
    )


def _page(
    request: Request,
    user: WebUser,
    *,
    problem: FormProblem | None = None,
    target: str | None = None,
    values: dict | None = None,
    created: dict | None = None,
):
    with transaction(request.app.state.sessions) as session:
        users = list_users(session, org=user.organization)
        credentials = {
            c.user_id: c
            for c in session.scalars(
                select(UserCredential).where(UserCredential.organization_id == user.organization.id)
            )
        }
        record(
            session, actor=user.client.actor, action="web.users.read", resource_type="user", resource_id=None
        )
    context = {
        "users": users,
        "credentials": credentials,
        "problem": problem,
        "target": target,
        "done": request.query_params.get("done"),
        "did": DID.get(request.query_params.get("did", "")),
        "values": values or {},
        "created": created,
    }
    return render(request, "users.html", context, status_code=problem.status if problem else 200, user=user)


@router.get("/admin/users")
def users_page(request: Request, user: CurrentUser):
    if not user.is_admin:
        return _forbidden(request, user)
    return _page(request, user)


@router.post("/admin/users/{user_id}/password")
async def set_user_password(user_id: str, request: Request, user: CheckedUser):
    if not user.is_admin:
        return _forbidden(request, user)
    form = await request.form()
    password, again, login = (
        form.get(k) if isinstance(form.get(k), str) else "" for k in ("password", "again", "login")
    )
    return await run_in_threadpool(_set_password, request, user, user_id, password, again, login)


def _set_password(request: Request, user: WebUser, user_id: str, password: str, again: str, login: str):
    try:
        if password != again:
            raise PasswordError("the two passwords differ", field="again")
        with transaction(request.app.state.sessions) as session:
            target = get_user(session, org=user.organization, user_id=user_id)
            set_password(
                session,
                org=user.organization,
                user=target,
                password=password,
                login=login or None,
                actor=user.client.actor,
            )
    except UserNotFound:
        problem = FormProblem("password", f"no user {user_id!r} in your organization", status=404)
        return _page(request, user, problem=problem, target=user_id)
    except PasswordError as exc:
        problem = FormProblem(
            "password", str(exc), fix="Correct it and send the form again.", field=exc.field
        )
        return _page(request, user, problem=problem, target=user_id)
    return RedirectResponse(f"/admin/users?done={user_id}", status_code=303)


def _fields(form, *names: str) -> dict[str, str]:
    return {k: (form.get(k) if isinstance(form.get(k), str) else "") for k in names}


def licence_codes(text: str) -> list[str]:
    """'US-CA, us-ny  US' -> ['US-CA', 'us-ny', 'US'] (the people service checks and normalizes them)."""
    return [c for c in text.replace(",", " ").replace(";", " ").split() if c]


@router.post("/admin/users")
async def create_user_page(request: Request, user: CheckedUser):
    if not user.is_admin:
        return _forbidden(request, user)
    form = await request.form()
    values = _fields(form, "name", "role", "jurisdictions", "login")
    secrets = _fields(form, "password", "again")
    return await run_in_threadpool(_create, request, user, values, secrets)


def _create(request: Request, user: WebUser, values: dict, secrets: dict):
    try:
        if secrets["password"] != secrets["again"]:
            raise PasswordError("the two passwords differ", field="again")
        if not values["login"].strip():
            raise PasswordError("a new user needs a sign-in name", field="login")
        with transaction(request.app.state.sessions) as session:
            issued = create_user(
                session,
                org=user.organization,
                name=values["name"],
                role=values["role"],
                jurisdictions=licence_codes(values["jurisdictions"]) if values["role"] != "admin" else (),
                actor=user.client.actor,
                key_label=f"{values['name'].strip()[:80]} (created on the users page)",
            )
            set_password(
                session,
                org=user.organization,
                user=issued.user,
                password=secrets["password"],
                login=values["login"],
                actor=user.client.actor,
            )
            created = {
                "name": issued.user.name,
                "id": issued.user.id,
                "login": values["login"].strip().lower(),
                "key": issued.key,
            }
    except DomainError as exc:
        return _page(request, user, problem=FormProblem.of("create", exc), values=values)
    except PasswordError as exc:
        problem = FormProblem("create", str(exc), fix="Correct it and send the form again.", field=exc.field)
        return _page(request, user, problem=problem, values=values)
    return _page(request, user, created=created)


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate_user_page(user_id: str, request: Request, user: CheckedUser):
    if not user.is_admin:
        return _forbidden(request, user)
    form = await request.form()
    confirmed = form.get("confirm") == "yes"
    return await run_in_threadpool(_deactivate, request, user, user_id, confirmed)


def _deactivate(request: Request, user: WebUser, user_id: str, confirmed: bool):
    if not confirmed:
        problem = FormProblem(
            "deactivate", "not confirmed", fix="Tick the box to confirm, then deactivate.", field="confirm"
        )
        return _page(request, user, problem=problem, target=user_id)
    if user_id == user.user.id:
        problem = FormProblem(
            "deactivate",
            "you cannot deactivate yourself here",
            fix="Ask another administrator of your organization.",
            status=409,
        )
        return _page(request, user, problem=problem, target=user_id)
    try:
        with transaction(request.app.state.sessions) as session:
            deactivate_user(session, org=user.organization, user_id=user_id, actor=user.client.actor)
    except UserNotFound:
        problem = FormProblem("deactivate", f"no user {user_id!r} in your organization", status=404)
        return _page(request, user, problem=problem, target=user_id)
    return RedirectResponse(f"/admin/users?did=deactivated#user-{user_id}", status_code=303)


@router.post("/admin/users/{user_id}/licences")
async def licences_page(user_id: str, request: Request, user: CheckedUser):
    if not user.is_admin:
        return _forbidden(request, user)
    form = await request.form()
    text = _fields(form, "jurisdictions")["jurisdictions"]
    return await run_in_threadpool(_licences, request, user, user_id, text)


def _licences(request: Request, user: WebUser, user_id: str, text: str):
    try:
        with transaction(request.app.state.sessions) as session:
            set_licences(
                session,
                org=user.organization,
                user_id=user_id,
                jurisdictions=licence_codes(text),
                actor=user.client.actor,
            )
    except UserNotFound:
        problem = FormProblem("licences", f"no user {user_id!r} in your organization", status=404)
        return _page(request, user, problem=problem, target=user_id)
    except DomainError as exc:
        return _page(
            request,
            user,
            problem=FormProblem.of("licences", exc),
            target=user_id,
            values={"jurisdictions": text},
        )
    return RedirectResponse(f"/admin/users?did=licences#user-{user_id}", status_code=303)


@router.get("/admin/waiting")
def waiting_page(request: Request, user: CurrentUser):
    if not user.is_admin:
        return _forbidden(request, user)
    now = utcnow()
    with transaction(request.app.state.sessions) as session:
        waiting = waiting_on_patient(session, client=user.client, now=now)
    return render(request, "waiting.html", {"waiting": waiting, "now": now}, user=user)
