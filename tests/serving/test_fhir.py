"""The FHIR R4 facade (/fhir/R4): the CapabilityStatement lists exactly what the routes serve, the
intake Questionnaire has an item for every field of the JSON API's questionnaire, every resource read
parses back with ``fhir.resources``, and the organization and licence boundaries, the key and the
audit hold as in the JSON API (refusals as OperationOutcomes)."""

from __future__ import annotations

import base64
from datetime import timedelta

import annotated_types
from conftest import make_dermatologist
from consults_support import DIAGNOSIS, PRESCRIPTION, bearer, claim, follow_up_body, send_photo
from factories import good_jpeg
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
    QuestionnaireResponseItemAnswer,
)
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from patients_support import case_of
from sqlalchemy import select

from model.questionnaire import BOOLEAN_FIELDS, Questionnaire
from serving.api.fhir import router as fhir_router
from serving.api.fhir import system_interactions
from serving.audit import AuditEvent
from serving.db import transaction, utcnow
from serving.fhir.codes import ICD10CM, MAX_VALUE, MIN_VALUE, RXNORM
from serving.fhir.questionnaire import URL as QUESTIONNAIRE_URL
from serving.fhir.registry import REGISTRY

FHIR = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
ALICE = {"external_id": "emr-2001", "birth_year": 1971, "sex": "female", "display_name": "Alice Example"}
CLASSES = {
    "Patient": Patient,
    "DiagnosticReport": DiagnosticReport,
    "Condition": Condition,
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
    "CarePlan": CarePlan,
    "Task": Task,
    "Appointment": Appointment,
    "Questionnaire": FhirQuestionnaire,
}


def fhir_get(client, path: str, headers: dict | None, model=None, status: int = 200, **params):
    r = client.get(f"{FHIR}/{path}", headers=headers or {}, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON), r.headers["content-type"]
    if status >= 400:
        return OperationOutcome.model_validate_json(r.content)
    return (model or CLASSES[path.split("/")[0]]).model_validate_json(r.content)


def search(client, resource_type: str, headers: dict, **params) -> list:
    bundle = fhir_get(client, resource_type, headers, Bundle, **params)
    assert bundle.type == "searchset" and bundle.total == len(bundle.entry or [])
    resources = [entry.resource for entry in bundle.entry or []]
    # each entry parses back as its own type
    return [CLASSES[resource_type].model_validate_json(r.model_dump_json()) for r in resources]


def issue(outcome: OperationOutcome) -> tuple[str, str]:
    """The issue type and the service's error code of a one-issue OperationOutcome."""
    (only,) = outcome.issue
    return only.code, only.details.coding[0].code


# -- the CapabilityStatement -------------------------------------------------------------------


def test_metadata_lists_exactly_the_served_types_interactions_and_searches(client, org) -> None:
    statement = fhir_get(client, "metadata", None, CapabilityStatement)
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    (rest,) = statement.rest
    listed = {resource.type: resource for resource in rest.resource}
    assert list(listed) == list(REGISTRY)
    assert set(CLASSES) == set(listed)  # the types this test parses are the ones served
    system = [i.code for i in rest.interaction or []]
    assert system == system_interactions(fhir_router.routes) == ["transaction"]
    headers = org.headers("admin")
    for resource_type, resource in listed.items():
        interactions = {i.code for i in resource.interaction}
        params = {p.name for p in resource.searchParam or []}
        assert interactions == ({"read", "search-type"} if params else {"read"}), resource_type
        assert params == set(REGISTRY[resource_type].searches), resource_type
        # the read is served: an unknown id is this type's 404, not an unsupported type
        outcome = fhir_get(client, f"{resource_type}/no-such-id", headers, status=404)
        assert issue(outcome) == ("not-found", f"{resource_type}_not_found")
        for param in params:  # each listed search answers a searchset
            assert search(client, resource_type, headers, **{param: "no-such-value"}) == []
        # a search parameter not listed is refused
        outcome = fhir_get(client, resource_type, headers, status=400, _unlisted="x")
        assert issue(outcome) == ("invalid", "unsupported_search")
    for unserved in ("Observation", "Encounter", "Media"):
        assert unserved not in listed
        outcome = fhir_get(client, f"{unserved}/x", headers, status=404)
        assert issue(outcome) == ("not-found", "resource_type_not_supported")


# -- the Questionnaire ---------------------------------------------------------------------------


def _bound(field, kind):
    return next(
        (getattr(m, kind) for m in field.metadata if isinstance(m, getattr(annotated_types, kind.title()))),
        None,
    )


def test_questionnaire_has_an_item_for_every_field_of_the_json_api_questionnaire(client, org) -> None:
    questionnaire = fhir_get(client, "Questionnaire/dermatriage-intake", org.headers())
    items = {item.linkId: item for item in questionnaire.item}
    assert list(items) == list(Questionnaire.model_fields)
    for name, field in Questionnaire.model_fields.items():
        item = items[name]
        assert bool(item.required) == field.is_required(), name
        if name in BOOLEAN_FIELDS or name == "consent_research":
            assert item.type == "boolean", name
        extensions = {e.url: e for e in item.extension or []}
        low, high = _bound(field, "ge"), _bound(field, "le")
        for url, bound in ((MIN_VALUE, low), (MAX_VALUE, high)):
            if bound is None:
                assert url not in extensions, name
            else:
                value = extensions[url].valueInteger
                value = extensions[url].valueDecimal if value is None else value
                assert value == bound and item.type in ("integer", "decimal"), name
        longest = next((m.max_length for m in field.metadata if isinstance(m, annotated_types.MaxLen)), None)
        assert item.maxLength == longest, name
    assert [i.linkId for i in questionnaire.item if i.required] == ["jurisdiction"]
    assert [o.valueCoding.code for o in items["sex"].answerOption] == ["female", "male", "other", "unknown"]
    assert items["body_site"].type == "choice" and len(items["body_site"].answerOption) == 17
    assert [o.valueCoding.code for o in items["capture_device"].answerOption] == ["phone", "dermatoscope"]
    assert (items["age"].type, items["size_mm"].type, items["concern"].type) == ("integer", "decimal", "text")
    assert fhir_get(client, "Questionnaire/other", org.headers(), status=404)


# -- reads ---------------------------------------------------------------------------------------


def _treated_case(client, org) -> tuple[dict, dict]:
    """A case of ALICE diagnosed, prescribed for and given a follow-up through the JSON API."""
    case = case_of(client, org, ALICE, seed=3)
    derm = org.headers("dermatologist")
    assert claim(client, org, case["id"]).status_code == 200
    steps = {}
    for path, body in (
        ("diagnosis", DIAGNOSIS),
        ("prescriptions", PRESCRIPTION),
        ("follow-ups", follow_up_body()),
    ):
        r = client.post(f"/v1/cases/{case['id']}/{path}", json=body, headers=derm)
        assert r.status_code == 201, r.text
        steps[path] = r.json()
    return case, steps


def test_reads_and_patient_searches_parse_back_and_match_the_json_api(client, org, sessions) -> None:
    case, steps = _treated_case(client, org)
    patient_id, headers = case["patient_id"], org.headers("intake")

    patient = fhir_get(client, f"Patient/{patient_id}", headers)
    assert (patient.gender, patient.birthDate, patient.name[0].text) == ("female", "1971", "Alice Example")
    assert patient.identifier[0].value == "emr-2001"
    assert [p.id for p in search(client, "Patient", headers, identifier="emr-2001")] == [patient_id]

    triage = fhir_get(client, f"DiagnosticReport/triage-{case['id']}", headers)
    assert triage.subject.reference == f"Patient/{patient_id}"
    assert triage.conclusionCode[0].coding[0].code == case["triage"]["tier"]

    conditions = search(client, "Condition", headers, patient=patient_id)
    (condition,) = conditions
    assert condition.code.coding[0].system == ICD10CM and condition.code.coding[0].code == "L70.0"
    assert condition.clinicalStatus.coding[0].code == "active"
    assert fhir_get(client, f"Condition/{condition.id}", headers).id == condition.id

    (medication,) = search(client, "MedicationRequest", headers, patient=f"Patient/{patient_id}")
    assert (medication.medicationCodeableConcept.coding[0].system, medication.status) == (RXNORM, "active")
    assert medication.medicationCodeableConcept.coding[0].code == PRESCRIPTION["rxcui"]
    assert medication.reasonReference[0].reference == f"Condition/{condition.id}"
    assert medication.dispenseRequest.numberOfRepeatsAllowed == PRESCRIPTION["refills"]

    (plan,) = search(client, "CarePlan", headers, patient=patient_id)
    assert (plan.status, plan.activity[0].detail.status) == ("active", "scheduled")

    reports = search(client, "DiagnosticReport", headers, patient=patient_id)
    assert [r.id for r in reports] == [f"triage-{case['id']}", f"consult-{case['id']}"]
    consult = fhir_get(client, f"DiagnosticReport/consult-{case['id']}", headers)
    assert consult.status == "final" and consult.conclusionCode[0].coding[0].code == "L70.0"
    assert search(client, "ServiceRequest", headers, patient=patient_id) == []
    assert search(client, "Task", headers, patient=patient_id) == []

    # audited like the JSON reads: by the case (or the patient) the resource is about
    with transaction(sessions) as session:
        audit = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("fhir.%"))))
    reads = {
        (e.resource_type, e.resource_id, e.detail["resource"])
        for e in audit
        if e.action == "fhir.read" and e.outcome == "ok"
    }
    assert ("case", case["id"], f"Condition/{condition.id}") in reads
    assert ("patient", patient_id, f"Patient/{patient_id}") in reads
    searches = [e for e in audit if e.action == "fhir.search" and e.resource_id == patient_id]
    assert {e.detail["type"] for e in searches} >= {"Condition", "MedicationRequest", "CarePlan"}


def test_referral_and_retake_request_read_as_service_request_and_task(client, org) -> None:
    derm = org.headers("dermatologist")
    referred = case_of(client, org, ALICE, seed=4)
    assert claim(client, org, referred["id"]).status_code == 200
    body = {"reason": "Needs a biopsy.", "urgency": "soon", "specialty": "dermatologic surgery"}
    assert client.post(f"/v1/cases/{referred['id']}/referral", json=body, headers=derm).status_code == 201
    (referral,) = search(client, "ServiceRequest", org.headers(), patient=referred["patient_id"])
    assert (referral.priority, referral.reasonCode[0].text) == ("urgent", "Needs a biopsy.")
    assert fhir_get(client, f"ServiceRequest/{referral.id}", org.headers()).id == referral.id

    retake = case_of(client, org, ALICE, seed=5)
    assert claim(client, org, retake["id"]).status_code == 200
    ask = {"instructions": "Closer, in daylight.", "reasons": ["blurred"]}
    r = client.post(f"/v1/cases/{retake['id']}/retake-request", json=ask, headers=derm)
    assert r.status_code == 201, r.text
    (task,) = search(client, "Task", org.headers(), patient=retake["patient_id"])
    assert (task.status, task.description, task.reasonCode.coding[0].code) == (
        "requested",
        "Closer, in daylight.",
        "blurred",
    )
    send_photo(client, org, retake["id"], good_jpeg(6))
    assert fhir_get(client, f"Task/{task.id}", org.headers()).status == "completed"


def test_a_video_visit_reads_as_an_appointment_proposed_then_booked(client, org) -> None:
    case = case_of(client, org, ALICE, seed=8)
    assert claim(client, org, case["id"]).status_code == 200
    times = [(utcnow() + timedelta(days=days)).replace(microsecond=0) for days in (2, 3)]
    body = {"proposed_times": [t.isoformat() for t in times], "reason": "Let us talk it through."}
    r = client.post(f"/v1/cases/{case['id']}/video-visit", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    (visit,) = search(client, "Appointment", org.headers(), patient=case["patient_id"])
    assert (visit.status, visit.start, visit.minutesDuration) == ("proposed", None, 20)
    assert [p.start for p in visit.requestedPeriod] == times
    assert visit.participant[0].actor.reference == f"Patient/{case['patient_id']}"
    r = client.post(
        f"/v1/cases/{case['id']}/video-visit/confirm",
        json={"time": times[1].isoformat()},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    booked = fhir_get(client, f"Appointment/{visit.id}", org.headers("dermatologist"))
    assert (booked.status, booked.start, booked.end) == ("booked", times[1], times[1] + timedelta(minutes=20))
    assert booked.participant[0].status == "accepted"


# -- boundaries ----------------------------------------------------------------------------------


def _patient_with_every_resource(client, org) -> tuple[str, set[tuple[str, str]]]:
    """ALICE with a treated case, a referred one, one asked for a retake and one with a video visit:
    her id, and every (type, id) the organization's admin finds about her."""
    case, _ = _treated_case(client, org)
    derm = org.headers("dermatologist")
    acts = (
        ("referral", {"reason": "Needs a biopsy.", "urgency": "routine"}),
        ("retake-request", {"instructions": "Closer, please."}),
        ("video-visit", {"proposed_times": [(utcnow() + timedelta(days=2)).isoformat()], "reason": "Talk."}),
    )
    for seed, (path, body) in enumerate(acts, 20):
        other = case_of(client, org, ALICE, seed=seed)
        assert claim(client, org, other["id"]).status_code == 200
        r = client.post(f"/v1/cases/{other['id']}/{path}", json=body, headers=derm)
        assert r.status_code == 201, r.text
    patient_id = case["patient_id"]
    found = {("Patient", patient_id)}
    for resource_type, kind in REGISTRY.items():
        if "patient" in kind.searches:
            resources = search(client, resource_type, org.headers("admin"), patient=patient_id)
            assert resources, resource_type  # every type has a resource of hers
            found.update((resource_type, r.id) for r in resources)
    return patient_id, found


def test_another_organization_an_unlicensed_dermatologist_and_no_key_get_nothing(
    client, org, other_org, sessions
) -> None:
    patient_id, every = _patient_with_every_resource(client, org)
    ours = dict(every)  # one resource of each type
    unlicensed = bearer(make_dermatologist(sessions, org.org_id, jurisdictions=("US-NY",)))
    for headers in (other_org.headers("admin"), other_org.headers("intake"), unlicensed):
        for resource_type, ident in every:
            outcome = fhir_get(client, f"{resource_type}/{ident}", headers, status=404)
            assert issue(outcome) == ("not-found", f"{resource_type}_not_found")
        for resource_type in ours:
            if resource_type != "Patient":
                assert search(client, resource_type, headers, patient=patient_id) == []
        assert search(client, "Patient", headers, identifier=ALICE["external_id"]) == []
    for resource_type, ident in every:  # the licensed one sees them all
        assert fhir_get(client, f"{resource_type}/{ident}", org.headers("dermatologist")).id == ident
    outcome = fhir_get(client, f"Condition/{ours['Condition']}", None, status=401)
    assert issue(outcome) == ("login", "unauthenticated")
    r = client.get(f"{FHIR}/Condition", params={"patient": patient_id})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    # the refused look-ups are on record
    with transaction(sessions) as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fhir.read", AuditEvent.outcome == "not_found")
        )
        assert {e.resource_id for e in refused} >= {ident for _, ident in every}


def test_drafts_are_not_shown_to_the_intake_system(client, org) -> None:
    case = case_of(client, org, ALICE, seed=7)
    assert claim(client, org, case["id"]).status_code == 200
    r = client.post(
        f"/v1/cases/{case['id']}/diagnosis",
        json={**DIAGNOSIS, "draft": True},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    assert search(client, "Condition", org.headers(), patient=case["patient_id"]) == []
    fhir_get(client, f"DiagnosticReport/consult-{case['id']}", org.headers(), status=404)
    (draft,) = search(client, "Condition", org.headers("dermatologist"), patient=case["patient_id"])
    report = fhir_get(client, f"DiagnosticReport/consult-{case['id']}", org.headers("dermatologist"))
    assert report.status == "preliminary" and report.conclusionCode[0].coding[0].code == "L70.0"


def test_the_json_api_keeps_its_error_shape(client, org) -> None:
    r = client.get("/v1/cases/no-such-case", headers=org.headers())
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"
    assert client.get("/v1/nowhere").json()["error"]["code"] == "not_found"
    r = client.get(f"{FHIR}/Patient/a/b")
    assert r.status_code == 404 and r.headers["content-type"].startswith(FHIR_JSON)
    assert issue(OperationOutcome.model_validate_json(r.content)) == ("not-found", "not_found")


def test_fhir_is_not_in_the_openapi_document(client) -> None:
    """FHIR clients learn the API from the CapabilityStatement; the OpenAPI document is the JSON API's
    (its promise: every 4xx an ErrorBody)."""
    assert not any(path.startswith("/fhir") for path in client.app.openapi()["paths"])


# -- the intake Bundle ---------------------------------------------------------------------------

ANSWERS = {
    "jurisdiction": "US-CA",
    "age": 52,
    "sex": "female",
    "body_site": "back",
    "itch": True,
    "size_mm": 6,
}


def intake_bundle(identifier: str, answers: dict | None = None, photo: bytes | None = None) -> str:
    """A transaction Bundle built with the fhir.resources classes: Patient, QuestionnaireResponse,
    a Media with the photo, a ServiceRequest from a referring practice."""
    answers = ANSWERS if answers is None else answers
    typed = {bool: "valueBoolean", int: "valueInteger", float: "valueDecimal", str: "valueString"}
    choice = {"sex", "body_site", "capture_device"}
    items = [
        QuestionnaireResponseItem(
            linkId=name,
            answer=[
                QuestionnaireResponseItemAnswer(valueCoding=Coding(code=value))
                if name in choice
                else QuestionnaireResponseItemAnswer(**{typed[type(value)]: value})
            ],
        )
        for name, value in answers.items()
    ]
    patient = Patient(
        identifier=[Identifier(system="urn:emr", value="emr-3001")], gender="female", birthDate="1974"
    )
    entries = [
        ("urn:uuid:patient", patient),
        (
            "urn:uuid:answers",
            QuestionnaireResponse(
                questionnaire=QUESTIONNAIRE_URL,
                status="completed",
                subject=Reference(reference="urn:uuid:patient"),
                item=items,
            ),
        ),
        (
            "urn:uuid:photo",
            Media(
                status="completed",
                subject=Reference(reference="urn:uuid:patient"),
                content=Attachment(
                    contentType="image/jpeg", data=base64.b64encode(photo or good_jpeg(11)), title="back.jpg"
                ),
            ),
        ),
        (
            "urn:uuid:request",
            ServiceRequest(
                status="active",
                intent="order",
                subject=Reference(reference="urn:uuid:patient"),
                requester=Reference(type="Organization", display="Maple Street Family Practice"),
            ),
        ),
    ]
    bundle = Bundle(
        type="transaction",
        identifier=Identifier(system="urn:emr:submissions", value=identifier),
        entry=[
            BundleEntry(
                fullUrl=url,
                resource=resource,
                request=BundleEntryRequest(method="POST", url=resource.get_resource_type()),
            )
            for url, resource in entries
        ],
    )
    return bundle.model_dump_json()


def post_bundle(client, org, body: str, status: int = 200):
    r = client.post(FHIR, content=body, headers=org.headers(**{"Content-Type": FHIR_JSON}))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON)
    return (
        Bundle.model_validate_json(r.content)
        if status == 200
        else OperationOutcome.model_validate_json(r.content)
    )


def test_a_bundle_makes_a_case_the_dermatologist_completes_and_fhir_reads_return_it(client, org) -> None:
    answer = post_bundle(client, org, intake_bundle("sub-1"))
    assert answer.type == "transaction-response" and len(answer.entry) == 4
    assert [e.response.status for e in answer.entry] == ["201 Created"] * 4
    patient_id = answer.entry[0].response.location.removeprefix("Patient/")
    triage = DiagnosticReport.model_validate_json(answer.entry[3].resource.model_dump_json())
    case_id = triage.id.removeprefix("triage-")

    # the same case as through the JSON API: triage, answers, patient, submitter
    case = client.get(f"/v1/cases/{case_id}", headers=org.headers()).json()
    assert case["patient_id"] == patient_id
    assert triage.conclusionCode[0].coding[0].code == case["triage"]["tier"]
    twin = case_of(client, org, {"external_id": "emr-3001"}, seed=11, **{**ANSWERS, "size_mm": 6.0})
    assert (twin["triage"]["tier"], twin["triage"]["reasons"]) == (
        case["triage"]["tier"],
        case["triage"]["reasons"],
    )
    assert twin["patient_id"] == patient_id
    patient = fhir_get(client, f"Patient/{patient_id}", org.headers())
    assert (patient.gender, patient.birthDate, patient.identifier[0].value) == ("female", "1974", "emr-3001")

    # a retry of the same Bundle is the same case
    again = post_bundle(client, org, intake_bundle("sub-1"))
    assert [e.response.status for e in again.entry] == ["200 OK"] * 4
    assert again.entry[3].resource.id == triage.id

    # the dermatologist completes the case through the JSON API
    derm = org.headers("dermatologist")
    assert claim(client, org, case_id).status_code == 200
    for path, body in (
        ("diagnosis", DIAGNOSIS),
        ("prescriptions", PRESCRIPTION),
        ("follow-ups", follow_up_body()),
    ):
        r = client.post(f"/v1/cases/{case_id}/{path}", json=body, headers=derm)
        assert r.status_code == 201, r.text
    (condition,) = search(client, "Condition", org.headers(), patient=patient_id)
    (medication,) = search(client, "MedicationRequest", org.headers(), patient=patient_id)
    (plan,) = search(client, "CarePlan", org.headers(), patient=patient_id)
    assert condition.code.coding[0].code == DIAGNOSIS["code"]
    assert medication.medicationCodeableConcept.coding[0].code == PRESCRIPTION["rxcui"]
    assert plan.activity[0].detail.status == "scheduled"
    assert all(r.identifier[0].value == case_id for r in (condition, medication, plan))


def test_a_bundle_is_refused_as_post_v1_cases_refuses_with_the_part_at_fault(client, org) -> None:
    post_bundle(client, org, intake_bundle("sub-2"))
    cases = (
        (
            intake_bundle("sub-2", answers={**ANSWERS, "age": 40}),
            422,
            "idempotency_key_reused",
            "Bundle.identifier",
        ),
        (
            intake_bundle("sub-3", answers={**ANSWERS, "age": 200}),
            422,
            "invalid_field",
            "Bundle.entry[1].resource.item.where(linkId='age')",
        ),
        (
            intake_bundle("sub-4", answers={"age": 30}),
            422,
            "invalid_field",
            "Bundle.entry[1].resource.item.where(linkId='jurisdiction')",
        ),
        (intake_bundle("sub-5", photo=b"not an image at all"), 415, None, "Bundle.entry[2].resource"),
        ('{"resourceType": "Bundle", "type": "batch"}', 422, "invalid_bundle", "Bundle.type"),
        ('{"resourceType": "Patient"}', 422, "invalid_resource", None),
    )
    for body, status, code, field in cases:
        outcome = post_bundle(client, org, body, status=status)
        (only,) = outcome.issue
        if code is not None:
            assert only.details.coding[0].code == code, only
        if field is not None:
            assert only.expression == [field], only
    r = client.post(
        FHIR,
        content=intake_bundle("sub-6"),
        headers=org.headers("dermatologist", **{"Content-Type": FHIR_JSON}),
    )
    assert r.status_code == 403 and issue(OperationOutcome.model_validate_json(r.content))[0] == "forbidden"
    r = client.post(
        FHIR, content=intake_bundle("sub-6"), headers=org.headers(**{"Content-Type": "text/plain"})
    )
    assert r.status_code == 415
