"""Prescriptions: a medication of the formulary (RxNorm ingredient), in a dose form and strength the
formulary lists for it, written for the case's current diagnosis."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.consults import diagnosis as diagnosis_service
from serving.consults import drafts, formulary
from serving.consults.common import acting_on, add_to_case, authored, record_action, rows_of
from serving.consults.models import Prescription
from serving.consults.schemas import PrescriptionIn
from serving.errors import DomainError
from serving.events import types

S = CaseStatus


def formulary_product(
    rxcui: str, form: str, strength: str
) -> tuple[formulary.Medication, formulary.Product, str]:
    """The medication, its product in ``form`` and the formulary's spelling of ``strength``;
    DomainError (422, naming the field) when any of them is not listed."""
    medication = formulary.lookup(rxcui)
    if medication is None:
        raise DomainError(
            422,
            "unknown_medication",
            f"RXCUI {rxcui!r} is not in the formulary",
            fix="Use an RXCUI from GET /v1/catalogue/medications?q=<name>, e.g. ?q=doxycycline.",
            field="rxcui",
        )
    product = medication.product(form)
    if product is None:
        raise DomainError(
            422,
            "form_not_listed",
            f"{medication.name} does not come as {form!r} in the formulary",
            fix=f"Choose one of: {', '.join(medication.forms)}.",
            field="form",
        )
    listed = formulary.listed_strength(product, strength)
    if listed is None:
        raise DomainError(
            422,
            "strength_not_listed",
            f"{medication.name} {product.form} does not come in {strength!r} in the formulary",
            fix=f"Choose one of: {', '.join(product.strengths)}.",
            field="strength",
        )
    return medication, product, listed


def prescription_event(p: Prescription) -> dict:
    return {
        "prescription_id": p.id,
        "rxcui": p.rxcui,
        "medication": p.medication,
        "form": p.form,
        "strength": p.strength,
        "directions": p.directions,
        "quantity": p.quantity,
        "quantity_unit": p.quantity_unit,
        "refills": p.refills,
        "pharmacy_note": p.pharmacy_note,
        "renews_prescription_id": p.renews_id,
    }


def prescribe(session: Session, *, client: Client, case_id: str, data: PrescriptionIn, now: datetime):
    """Write a prescription on a diagnosed case (or one back in review that was diagnosed before).
    Returns (case, prescription). ``data.draft``: held until a consult note releases it."""
    case = acting_on(
        session, client, case_id, now, allowed=(S.in_review, S.diagnosed), action="get a prescription"
    )
    current = diagnosis_service.latest(session, case=case)
    if current is None:
        raise DomainError(
            409,
            "diagnosis_required",
            "the case has no diagnosis yet; a prescription is written for a diagnosis",
            fix="Record the diagnosis first: POST /v1/cases/{id}/diagnosis.",
            field="status",
        )
    medication, product, strength = formulary_product(data.rxcui, data.form, data.strength)
    if not data.draft:
        drafts.require_none_pending(session, case=case, action="get a prescription at once")
    prescription = add_to_case(
        session,
        Prescription,
        case,
        diagnosis_id=current.id,
        medication=medication.name,
        quantity_unit=product.unit,
        **data.model_dump(exclude={"rxcui", "form", "strength"}),
        rxcui=medication.rxcui,
        form=product.form,
        strength=strength,
        **authored(client, now, by="prescribed_by"),
    )
    record_action(
        session,
        client=client,
        case=case,
        action="consult.prescription.create",
        detail={
            "prescription_id": prescription.id,
            "rxcui": medication.rxcui,
            "strength": strength,
            "draft": data.draft,
        },
        # a draft is told to the patient by the consult note that releases it
        event=None if data.draft else (types.PRESCRIPTION_ISSUED, prescription_event(prescription)),
    )
    return case, prescription


def of_case(session: Session, *, case: Case) -> list[Prescription]:
    return rows_of(session, Prescription, case, Prescription.created_at, Prescription.id)
