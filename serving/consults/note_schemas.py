"""Request and response shapes of the consult note (sign and release)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from serving.consults.models import ConsultNote
from serving.consults.schemas import Acted, ShortText, _In

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class NoteReleaseIn(_In):
    confirm: Literal[True] = Field(
        description="true: I have reviewed what the note releases (GET /v1/cases/{id}/consult-note/draft)."
    )
    attestation: ShortText | None = Field(
        default=None, description="The signer's statement; the default one says what they reviewed."
    )
    content_sha256: Sha256 | None = Field(
        default=None,
        description="The content_sha256 of the draft you reviewed: the release is refused (409 "
        "consult_note_changed) when the drafts changed since.",
    )


class NoteSignatureOut(BaseModel):
    user_id: str
    name: str
    licence_jurisdiction: str = Field(description="The jurisdiction of the signer's licence the case is in.")
    signed_at: datetime
    attestation: str


class ConsultNoteOut(BaseModel):
    id: str
    case_id: str
    number: int = Field(description="1 for the case's first note, then 2, ...")
    content: dict[str, Any] = Field(
        description="What the note released: practice, patient, case, diagnosis (with the plan), "
        "prescriptions, follow_up, released (the ids of the drafts it released)."
    )
    content_sha256: str = Field(description="SHA-256 of the content's canonical JSON (sorted keys, UTF-8).")
    signature: NoteSignatureOut
    pdf_url: str


class NoteDraftOut(BaseModel):
    """What a release would sign now: its content and hash; ``releasable`` false when nothing is held."""

    case_id: str
    releasable: bool
    number: int
    content: dict[str, Any] | None
    content_sha256: str | None


class NoteReleased(Acted):
    note: ConsultNoteOut
    replayed: bool = Field(description="true: nothing new was held; this is the note released before.")


def pdf_url(note: ConsultNote) -> str:
    return f"/v1/cases/{note.case_id}/consult-note.pdf?number={note.number}"


def note_out(note: ConsultNote) -> ConsultNoteOut:
    return ConsultNoteOut(
        id=note.id,
        case_id=note.case_id,
        number=note.number,
        content=note.content,
        content_sha256=note.content_sha256,
        signature=NoteSignatureOut(
            user_id=note.signed_by_user_id,
            name=note.signed_by_name,
            licence_jurisdiction=note.licence_jurisdiction,
            signed_at=note.signed_at,
            attestation=note.attestation,
        ),
        pdf_url=pdf_url(note),
    )
