"""``GET /v1/metrics/model`` and the "Model performance" page: read the facts about the cases submitted
in the window that the caller may see (``serving.cases.visibility``: the organization, and for a
dermatologist the jurisdictions they are licensed in), in five queries whatever their number, then let
``figures`` and ``drift`` count. The read is audited (``metrics.model.read``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from model import input_profile
from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case, Photo
from serving.cases.visibility import visible_cases
from serving.consults import diagnoses, pathology
from serving.consults.models import Message
from serving.monitoring import drift, figures, reference
from serving.monitoring import schemas as out
from serving.monitoring.figures import CaseFacts, SubmittedPhoto
from serving.orgs.service import Role

#: the window a caller may ask for, in days
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 730


def _in_window(client: Client, query: Select, start: datetime) -> Select:
    return visible_cases(client, query).where(Case.created_at >= start)


def _submitted_photos(session: Session, client: Client, case_ids: Select) -> dict[str, list[SubmittedPhoto]]:
    rows = session.execute(
        select(Photo.case_id, Photo.width, Photo.height, Photo.quality, Photo.predictions)
        .where(
            Photo.organization_id == client.organization.id,
            Photo.case_id.in_(case_ids),
            Photo.batch == 1,
        )
        .order_by(Photo.case_id, Photo.position)
    )
    photos: dict[str, list[SubmittedPhoto]] = defaultdict(list)
    for case_id, width, height, quality, predictions in rows:
        reading = predictions or {}
        photos[case_id].append(
            SubmittedPhoto(
                long_side=input_profile.long_side(width, height),
                modality=quality.modality,
                accepted=quality.accepted,
                malignancy=reading.get("malignancy"),
                model=reading.get("model"),
            )
        )
    return photos


def _retake_requested(session: Session, client: Client, case_ids: Select) -> set[str]:
    return set(
        session.scalars(
            select(Message.case_id)
            .where(
                Message.organization_id == client.organization.id,
                Message.case_id.in_(case_ids),
                Message.kind == "retake_request",
            )
            .distinct()
        )
    )


def _title(code: str) -> str | None:
    entry = diagnoses.lookup(code)
    return entry.title if entry is not None else None


def case_facts(session: Session, *, client: Client, start: datetime) -> list[CaseFacts]:
    """What the figures need about each case the caller may see, submitted since ``start``."""
    case_ids = _in_window(client, select(Case.id), start)
    rows = session.execute(
        _in_window(
            client,
            select(
                Case.id,
                Case.created_at,
                Case.submitted_tier,
                Case.questionnaire,
                Case.first_reviewed_at,
            ),
            start,
        ).order_by(Case.created_at, Case.id)
    ).all()
    photos = _submitted_photos(session, client, case_ids)
    retakes = _retake_requested(session, client, case_ids)
    labels = pathology.outcomes_of(session, case_ids)
    facts = []
    for row in rows:
        label = labels.get(row.id)
        facts.append(
            CaseFacts(
                id=row.id,
                submitted_at=row.created_at,
                submitted_tier=row.submitted_tier,
                questionnaire=row.questionnaire or {},
                photos=tuple(photos.get(row.id, ())),
                reviewed=row.first_reviewed_at is not None,
                dermatologist_retake=row.id in retakes,
                label=label,
                title=_title(label.code) if label is not None else None,
            )
        )
    return facts


def _drift(cases: list[CaseFacts]) -> out.DriftOut:
    try:
        ref = reference.load()
    except input_profile.ProfileError as exc:
        return out.DriftOut(reference=None, problem=str(exc), alerts=0, figures=[])
    found = drift.drift(
        cases, ref.profile, false_retake=ref.false_retake, false_retake_source=ref.false_retake_source
    )
    selection = ref.profile.get("selection", {})
    return out.DriftOut(
        reference=out.ReferenceOut(
            sources=selection.get("sources", []),
            splits=selection.get("splits", []),
            manifest_sha256=selection.get("manifest_sha256"),
            n_lesions=ref.profile["n_lesions"],
            n_photos=ref.profile.get("n_photos", 0),
        ),
        problem=None,
        alerts=sum(f.alert for f in found),
        figures=[out.drift_figure_out(f) for f in found],
    )


def report(cases: list[CaseFacts]) -> dict:
    """Every figure of ``cases`` (pure: the parts of :class:`ModelMetricsOut` that depend on the cases)."""
    tiers = figures.tier_performance(cases)
    calibration = figures.calibration(cases)
    quality = figures.quality_agreement(cases)
    rate = out.rate_out
    return {
        "counts": out.CountsOut(**figures.counts(cases)),
        "tiers": out.TiersOut(
            **{k: v for k, v in tiers.items() if k != "operating_points"},
            operating_points=[
                out.OperatingPointOut(
                    at_least=p.at_least.value,
                    tp=p.tp,
                    fn=p.fn,
                    tn=p.tn,
                    fp=p.fp,
                    sensitivity=rate(p.sensitivity),
                    specificity=rate(p.specificity),
                )
                for p in tiers["operating_points"]
            ],
        ),
        "routine_malignant": [
            out.MissedCaseOut(
                case_id=c.id,
                url=f"/cases/{c.id}",
                submitted_at=c.submitted_at,
                code=c.label.code,
                title=c.title,
                source=c.label.source.value,
                model_class=c.label.model_class,
            )
            for c in figures.routine_malignant(cases)
        ],
        "calibration": out.CalibrationOut(
            **{k: v for k, v in calibration.items() if k != "bins"},
            bins=[
                out.CalibrationBinOut(
                    low=b.low,
                    high=b.high,
                    count=b.count,
                    mean_predicted=b.mean_predicted,
                    observed=rate(b.observed),
                )
                for b in calibration["bins"]
            ],
        ),
        "quality": out.GateAgreementOut(
            reviewed=quality["reviewed"],
            gate_passed=out.GateSplitOut(**quality["gate_passed"]),
            gate_sent_back_reviewed=out.GateSplitOut(**quality["gate_sent_back_reviewed"]),
            gate_missed=rate(quality["gate_missed"]),
            agreement=rate(quality["agreement"]),
            sent_back=out.SentBackOut(
                photos=quality["sent_back"]["photos"],
                cases=quality["sent_back"]["cases"],
                reached_review=rate(quality["sent_back"]["reached_review"]),
            ),
        ),
        "drift": _drift(cases),
    }


def model_metrics(
    session: Session, *, client: Client, window_days: int, now: datetime
) -> out.ModelMetricsOut:
    """The figures of the cases the caller may see, submitted in the ``window_days`` days before ``now``
    (dermatologists and admins; the route checks the role)."""
    start = now - timedelta(days=window_days)
    cases = case_facts(session, client=client, start=start)
    record(
        session,
        actor=client.actor,
        action="metrics.model.read",
        resource_type="metrics",
        resource_id=None,
        detail={"window_days": window_days, "cases": len(cases)},
    )
    licensed = sorted(client.jurisdictions) if client.role is Role.dermatologist else None
    return out.ModelMetricsOut(
        as_of=now,
        window_days=window_days,
        window_start=start,
        scope=out.ScopeOut(organization_id=client.organization.id, jurisdictions=licensed),
        **report(cases),
    )
