"""Admins: the organization's users, their sign-in names, and setting a user's password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from serving.audit import record
from serving.db import transaction
from serving.people.service import UserNotFound, get_user, list_users
from serving.web.auth_web import CheckedUser, CurrentUser, WebUser
from serving.web.forms import FormProblem
from serving.web.models import UserCredential
from serving.web.passwords import PasswordError, set_password
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)


def _forbidden(request: Request, user: WebUser):
    return render(
        request,
        "error.html",
        {"title": "Admins only", "message": "Only an administrator of your organization sees this page."},
        status_code=403,
        user=user,
    )


def _page(request: Request, user: WebUser, *, problem: FormProblem | None = None, target: str | None = None):
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
