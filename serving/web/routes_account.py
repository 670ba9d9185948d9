"""The signed-in user's own settings: the time zone the pages show times in (``users.time_zone``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from serving.audit import record
from serving.db import transaction, utcnow
from serving.errors import DomainError
from serving.people.service import set_time_zone, time_zones
from serving.web.auth_web import CheckedUser, CurrentUser, WebUser
from serving.web.forms import FormProblem
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)

#: offered first in the list: the zones most users of the service pick
COMMON = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Europe/Paris",
)


def zone_choices() -> list[str]:
    """Every IANA zone this machine knows, the common ones first (UTC is the empty choice)."""
    known = time_zones()
    rest = sorted(z for z in known if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")))
    return [z for z in COMMON if z in known] + [z for z in rest if z not in COMMON]


def _page(request: Request, user: WebUser, *, problem: FormProblem | None = None, value: str | None = None):
    context = {
        "zones": zone_choices(),
        "current": value if value is not None else (user.user.time_zone or ""),
        "problem": problem,
        "now": utcnow(),
        "done": request.query_params.get("done") == "time_zone" and problem is None,
        "active": "account",
    }
    return render(request, "account.html", context, status_code=problem.status if problem else 200, user=user)


@router.get("/account")
def account_page(request: Request, user: CurrentUser):
    with transaction(request.app.state.sessions) as session:
        record(
            session,
            actor=user.client.actor,
            action="web.account.read",
            resource_type="user",
            resource_id=user.user.id,
        )
    return _page(request, user)


@router.post("/account/time-zone")
async def account_time_zone(request: Request, user: CheckedUser):
    form = await request.form()
    value = form.get("time_zone")
    value = value if isinstance(value, str) else ""
    try:
        with transaction(request.app.state.sessions) as session:
            set_time_zone(
                session,
                org=user.organization,
                user_id=user.user.id,
                time_zone=value,
                actor=user.client.actor,
            )
    except DomainError as exc:
        return _page(request, user, problem=FormProblem.of("time_zone", exc), value=value)
    return RedirectResponse("/account?done=time_zone", status_code=303)
