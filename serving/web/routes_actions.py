"""The case page's forms: each parses its form into the consult API's schema, calls the same consult
service in one transaction, and goes back to the case page; a refusal is shown beside the form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from serving.consults import (
    diagnosis,
    disposition,
    follow_ups,
    messages,
    pathology,
    prescriptions,
    video_visits,
)
from serving.db import transaction, utcnow
from serving.errors import DomainError, NotFound
from serving.web import forms
from serving.web.auth_web import CheckedUser, WebUser
from serving.web.forms import FormProblem
from serving.web.routes_case import case_page, not_found

router = APIRouter(include_in_schema=False)


async def _act(
    request: Request, user: WebUser, case_id: str, *, form_name: str, parse: Callable, call: Callable
):
    form = await request.form()
    values = forms.values_of(form)
    try:
        parsed = parse(form)
        data = await parsed if hasattr(parsed, "__await__") else parsed
    except FormProblem as problem:
        return await run_in_threadpool(case_page, request, user, case_id, problem=problem, values=values)
    finally:
        await form.close()  # its spooled files: attachments are read into ``data`` by now
    try:
        await run_in_threadpool(call, request, user, case_id, data)
    except NotFound:
        return await run_in_threadpool(
            not_found, request, user, action=f"consult.{form_name}", resource_id=case_id
        )
    except DomainError as exc:
        problem = FormProblem.of(form_name, exc)
        return await run_in_threadpool(case_page, request, user, case_id, problem=problem, values=values)
    done = "question" if form_name == "message" and getattr(data, "question", False) else form_name
    return RedirectResponse(f"/cases/{case_id}?done={done}", status_code=303)


def _in_transaction(service_call):
    def call(request: Request, user: WebUser, case_id: str, data):
        with transaction(request.app.state.sessions) as session:
            return service_call(session, client=user.client, case_id=case_id, data=data, now=utcnow())

    return call


def _post_message(request: Request, user: WebUser, case_id: str, data):
    intake = request.app.state.intake
    return messages.post_message(
        request.app.state.sessions,
        store=intake.store,
        limits=intake.limits,
        budget=intake.decode_budget,
        client=user.client,
        case_id=case_id,
        data=data,
        now=utcnow(),
    )


def _visit_complete(request: Request, user: WebUser, case_id: str, data):
    lease = timedelta(minutes=request.app.state.settings.lease_minutes)
    with transaction(request.app.state.sessions) as session:
        return video_visits.complete(
            session, client=user.client, case_id=case_id, data=data, now=utcnow(), lease=lease
        )


ACTIONS = {
    # form name: (path, parse the form, call the service)
    "diagnose": ("diagnosis", forms.diagnosis_in, _in_transaction(diagnosis.diagnose)),
    "prescribe": ("prescriptions", forms.prescription_in, _in_transaction(prescriptions.prescribe)),
    "follow_up": ("follow-ups", forms.follow_up_in, _in_transaction(follow_ups.schedule)),
    "retake": ("retake-request", forms.retake_in, _in_transaction(disposition.request_retake)),
    "refer": ("referral", forms.referral_in, _in_transaction(disposition.refer)),
    "close": ("close", forms.close_in, _in_transaction(disposition.close)),
    "pathology": ("pathology", forms.pathology_in, _in_transaction(pathology.record)),
    "message": ("messages", forms.message_in, _post_message),
    "video_visit": ("video-visit", forms.video_visit_in, _in_transaction(video_visits.propose)),
    "visit_complete": ("video-visit/complete", forms.visit_complete_in, _visit_complete),
    "visit_cancel": ("video-visit/cancel", forms.visit_cancel_in, _in_transaction(video_visits.cancel)),
}


def _route(form_name: str, parse: Callable, call: Callable):
    async def endpoint(case_id: str, request: Request, user: CheckedUser):
        return await _act(request, user, case_id, form_name=form_name, parse=parse, call=call)

    endpoint.__name__ = f"web_{form_name}"
    return endpoint


for _name, (_path, _parse, _call) in ACTIONS.items():
    router.add_api_route(f"/cases/{{case_id}}/{_path}", _route(_name, _parse, _call), methods=["POST"])
