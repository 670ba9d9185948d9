"""Write the service's labelled photos as a training source: ``dermatriage data export-labels``.

An export is a folder::

    DIR/manifest.csv   the training manifest (data_pipelines.manifest), source "dermatriage_service",
                       paths relative to DIR
    DIR/images/…       the photos as the service stores them (metadata already stripped at intake)
    DIR/export.json    what was asked (organizations, --since), the outcome mapping's version, the
                       counts, every skipped case's reason (counts only), the manifest's sha256

Which cases: those of the chosen organizations (never more than one unless asked) whose questionnaire
says ``consent_research: true``, whose patient is not erased, with an outcome label in the model's
classes (``serving.consults.pathology.outcome_of``: the latest pathology, else the last confirmed
diagnosis) and at least one photo the gate accepted as a skin photo. ``since``: only cases with a
diagnosis or pathology result recorded on or after that date (an incremental export).

Every exported case is audited (``labels.export``), as is the export itself per organization. Folder and
files are private to the user (0700 / 0600): they hold patients' photos.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from data_pipelines.manifest import ManifestRow, manifest_hash, write_manifest
from data_pipelines.splits import SERVICE_TEST_SHARE
from model import outcome
from serving.audit import Actor, AuditEvent, record, record_case
from serving.cases.models import Case, Photo
from serving.consults import diagnosis, pathology
from serving.db import transaction
from serving.labels.rows import (
    CaseFacts,
    PhotoFacts,
    Skip,
    consented,
    exportable_label,
    manifest_row,
    pseudonym,
    usable,
)
from serving.orgs.models import Organization
from serving.patients.models import Patient
from serving.photos.store import PhotoStore, parse_key

FORMAT = "dermatriage-label-export/1"
#: the audit action of each exported case (its detail names the export)
EXPORT_AUDIT = "labels.export"
MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "export.json"
IMAGES = "images"


class ExportRefused(ValueError):
    """An export that cannot be written as asked (said to the operator as it is)."""


@dataclass
class ExportSummary:
    export_id: str
    out: Path
    organizations: list[str]
    since: date | None
    cases_seen: int = 0
    cases_exported: int = 0
    photos: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    by_diagnosis: Counter[str] = field(default_factory=Counter)
    manifest_sha256: str = ""

    def as_json(self, *, exported_at: datetime, k_folds: int, test_share: float) -> dict:
        return {
            "format": FORMAT,
            "export_id": self.export_id,
            "exported_at": exported_at.isoformat(),
            "organizations": self.organizations,
            "since": self.since.isoformat() if self.since else None,
            "outcome_mapping_version": outcome.MAPPING_VERSION,
            "k_folds": k_folds,
            "test_share": test_share,
            "cases_seen": self.cases_seen,
            "cases_exported": self.cases_exported,
            "photos": self.photos,
            "skipped": dict(sorted(self.skipped.items())),
            "photos_by_split": dict(sorted(self.by_split.items())),
            "photos_by_diagnosis": dict(sorted(self.by_diagnosis.items())),
            "manifest": MANIFEST_NAME,
            "manifest_sha256": self.manifest_sha256,
        }


def exports_holding(session: Session, case_ids: Sequence[str]) -> list[str]:
    """The ids of the label exports that hold photos of these cases (from the audit trail): an erasure
    names them, so that the copies outside the service can be deleted too."""
    if not case_ids:
        return []
    details = session.scalars(
        select(AuditEvent.detail).where(
            AuditEvent.action == EXPORT_AUDIT,
            AuditEvent.resource_type == "case",
            AuditEvent.resource_id.in_(list(case_ids)),
        )
    )
    return sorted({d["export_id"] for d in details if d and "export_id" in d})


def prepare_folder(out: Path) -> Path:
    """A new or empty folder, private to the user; an export never mixes with an older one."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportRefused(f"{out} exists and is not an empty folder: export into a new folder")
    (out / IMAGES).mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(out, 0o700)
    return out


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)


def label_recorded_at(session: Session, case: Case) -> datetime | None:
    """When the case's latest diagnosis or pathology result was recorded (for ``--since``)."""
    times = [d.created_at for d in diagnosis.history(session, case=case)]
    times += [r.created_at for r in pathology.of_case(session, case=case)]
    return max(times, default=None)


def _why_not(
    session: Session, case: Case, since: date | None
) -> tuple[Skip | None, outcome.OutcomeLabel | None]:
    if not consented(case.questionnaire):
        return Skip.no_consent, None
    if case.patient_id is not None:
        patient = session.get(Patient, case.patient_id)
        if patient is None or patient.erased_at is not None:
            return Skip.patient_erased, None
    label = pathology.outcome_of(session, case=case)
    skip = exportable_label(label)
    if skip is not None:
        return skip, label
    if since is not None:
        recorded = label_recorded_at(session, case)
        if recorded is None or recorded.date() < since:
            return Skip.before_since, label
    return None, label


def _photo_file(store: PhotoStore, photo: Photo, out: Path, image_name: str) -> PhotoFacts:
    """Copy the stored photo into the export (checked against its recorded sha256)."""
    content = store.read(photo.storage_key)
    digest = hashlib.sha256(content).hexdigest()
    stored_sha, suffix = parse_key(photo.storage_key)
    if digest != stored_sha:
        raise ExportRefused(f"photo {photo.id}: the stored file does not match its sha256 (store damaged)")
    relative = f"{IMAGES}/{image_name}.{suffix}"
    _write_private(out / relative, content)
    with Image.open(io.BytesIO(content)) as im:  # the header only
        width, height = im.size
    return PhotoFacts(
        photo_id=photo.id,
        modality=photo.quality.modality or "",
        path=relative,
        sha256=digest,
        width=width,
        height=height,
    )


def _case_rows(session, store, case, label, out, split) -> list[ManifestRow] | None:
    facts = CaseFacts(
        case_id=case.id,
        patient_id=case.patient_id,
        lesion_id=case.lesion_id,
        questionnaire=case.questionnaire,
        label=label,
    )
    photos = [p for p in case.photos if usable(p.quality_verdict, p.quality.modality)]
    if not photos:
        return None
    # the file is named by the row's image id: a photo is never written twice under two names
    return [
        manifest_row(facts, _photo_file(store, photo, out, pseudonym("photo", photo.id)), **split)
        for photo in photos
    ]


def export_labels(
    sessions: sessionmaker[Session],
    store: PhotoStore,
    *,
    out: Path,
    organizations: Sequence[Organization],
    since: date | None = None,
    k_folds: int = 5,
    test_share: float = SERVICE_TEST_SHARE,
    actor_for: Callable[[str], Actor],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: bool = False,
) -> ExportSummary:
    """Write the export of ``organizations``' consented, labelled cases into ``out`` (new or empty)."""
    if not organizations:
        raise ExportRefused("no organization chosen")
    out = prepare_folder(Path(out))
    try:
        split = {"k_folds": k_folds, "test_share": test_share}
        return _export(sessions, store, out, organizations, since, split, actor_for, now, progress)
    except BaseException:
        _empty(out)  # nothing half-written: no photos without their manifest
        raise


def _empty(out: Path) -> None:
    for path in sorted(out.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


def _export(sessions, store, out, organizations, since, split, actor_for, now, progress) -> ExportSummary:
    summary = ExportSummary(
        export_id=uuid.uuid4().hex, out=out, organizations=[o.slug for o in organizations], since=since
    )
    rows: list[ManifestRow] = []
    for org in organizations:
        actor = actor_for(org.id)
        with transaction(sessions) as session:
            case_ids = list(
                session.scalars(
                    select(Case.id).where(Case.organization_id == org.id).order_by(Case.created_at, Case.id)
                )
            )
        exported = 0
        for case_id in tqdm(
            case_ids, desc=f"export {org.slug}", unit="case", disable=not progress, file=sys.stderr
        ):
            with transaction(sessions) as session:
                case = session.get(Case, case_id)
                summary.cases_seen += 1
                skip, label = _why_not(session, case, since)
                case_rows = None if skip else _case_rows(session, store, case, label, out, split)
                if skip is None and case_rows is None:
                    skip = Skip.no_usable_photo
                if skip is not None:
                    summary.skipped[skip.value] += 1
                    continue
                rows += case_rows
                exported += 1
                summary.cases_exported += 1
                record_case(
                    session,
                    actor,
                    EXPORT_AUDIT,
                    case.id,
                    {"photos": len(case_rows), "export_id": summary.export_id},
                )
        with transaction(sessions) as session:
            record(
                session,
                actor=actor,
                action="labels.export.summary",
                resource_type="organization",
                resource_id=org.id,
                detail={
                    "export_id": summary.export_id,
                    "cases": exported,
                    "since": since.isoformat() if since else None,
                },
            )
    write_manifest(rows, out / MANIFEST_NAME)
    os.chmod(out / MANIFEST_NAME, 0o600)
    summary.photos = len(rows)
    summary.by_split = Counter(r.split for r in rows)
    summary.by_diagnosis = Counter(r.diagnosis for r in rows)
    summary.manifest_sha256 = manifest_hash(rows)
    content = json.dumps(summary.as_json(exported_at=now(), **split), indent=2) + "\n"
    _write_private(out / SUMMARY_NAME, content.encode())
    return summary
