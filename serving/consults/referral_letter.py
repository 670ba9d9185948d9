"""The referral letter: when the consult note of a case a clinician referred is released, a letter
addressed to the referring practice (its name, the clinician, contact, identifier and address from the
case's ``submitted_by``) says what the dermatologist found: the patient, the referral question, the
triage, the diagnosis, assessment, plan, prescriptions, follow-up and the signature.

The letter is not stored: like the note's PDF it is rendered from the signed note's immutable content
and the case's submission (which never changes) on each download; only the triage is the case's
current one. ``referral_letter.ready`` (emitted with ``consult.released``) names the practice as its
``recipient``. The PDF reuses the note's fonts and blocks (``note_pdf``).
"""

from __future__ import annotations

from typing import Any

from fpdf.enums import XPos, YPos

from serving.cases.models import Case
from serving.consults import note_pdf
from serving.consults.models import ConsultNote
from serving.errors import NotFound
from serving.events.recipients import practice_recipient


def is_referred(case: Case) -> bool:
    """The case was submitted by a clinician (who named the referring practice)."""
    return (case.submitted_by or {}).get("role") == "clinician"


def letter_url(note: ConsultNote) -> str:
    return f"/v1/cases/{note.case_id}/referral-letter.pdf?number={note.number}"


def ready_payload(case: Case, note: ConsultNote) -> dict[str, Any]:
    """The ``referral_letter.ready`` event: which note, where the letter is, and who must receive it."""
    return {
        "case_id": case.id,
        "note_id": note.id,
        "number": note.number,
        "letter_url": letter_url(note),
        "recipient": practice_recipient(case.submitted_by or {}),
    }


class NoReferralLetter(NotFound):
    def __init__(self, case_id: str):
        super().__init__(
            "referral letter",
            case_id,
            fix="A referral letter exists only for a case a clinician submitted (submitted_by.role "
            "'clinician'); read the consult note instead: GET /v1/cases/{id}/consult-note.pdf.",
        )


def require_referred(case: Case) -> None:
    if not is_referred(case):
        raise NoReferralLetter(case.id)


def _question(case: Case) -> str:
    by = case.submitted_by or {}
    concern = (case.questionnaire or {}).get("concern")
    return by.get("question") or concern or "Not stated: please assess and advise."


def _triage(case: Case) -> list[tuple[str, Any]]:
    tier = getattr(case.tier, "value", case.tier)
    setting = (case.care_setting or "-").replace("_", " ")
    return [
        ("Urgency tier", tier),
        ("Care setting", setting),
        ("Reasons", "; ".join(case.reasons or []) or "-"),
    ]


class _LetterPdf(note_pdf._NotePdf):
    """The note's PDF (fonts, blocks), titled and footed as the letter."""

    def __init__(self, note: ConsultNote):
        super().__init__(note)
        self.set_title(self.t(f"Referral letter - case {note.case_id} (note {note.number})"))

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.sans, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.t(f"Referral letter · case {self.note.case_id} · note {self.note.number}"))
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def render_pdf(case: Case, note: ConsultNote) -> bytes:
    """The letter to the referring practice (one or two A4 pages)."""
    require_referred(case)
    content = note.content
    to = practice_recipient(case.submitted_by or {})
    pdf = _LetterPdf(note)
    pdf.alias_nb_pages()
    pdf.add_page()

    pdf.set_font(pdf.sans, "B", 17)
    pdf.cell(0, 9, pdf.t(content["practice"]["name"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.sans, "", 11)
    pdf.cell(0, 6, pdf.t("Teledermatology referral letter"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    pdf.heading("To the referring practice")
    rows: list[tuple[str, Any]] = [("Practice", to["name"]), ("Clinician", to["clinician"] or "-")]
    rows += [(label, to[key]) for label, key in (("Identifier", "practice_id"), ("Address", "address"))]
    rows.append(("Contact", to["contact"] or "-"))
    pdf.pairs([(label, value) for label, value in rows if value])
    pdf.ln(1)
    clinician = to["clinician"] or "colleague"
    pdf.paragraph(
        f"Dear {clinician}, thank you for referring this patient. The dermatologist's findings and plan "
        "are below; the patient has received the same plan."
    )

    case_block = content["case"]
    pdf.heading("Patient")
    pdf.pairs(
        [
            *note_pdf._patient_rows(content["patient"]),
            ("Case", case_block["id"]),
            ("Referred", note_pdf._when(case_block.get("submitted_at"))),
            ("Body site", (case_block.get("body_site") or "-").replace("_", " ")),
        ]
    )
    pdf.heading("Your question")
    pdf.paragraph(_question(case))
    pdf.heading("Triage at intake")
    pdf.pairs(_triage(case))

    note_pdf.write_consult(pdf, content)

    follow_up = content.get("follow_up")
    pdf.heading("Follow-up")
    if follow_up:
        photos_due = note_pdf._day(follow_up["due_at"])
        pdf.pairs([("Photos due", photos_due), ("Instructions", follow_up["instructions"])])
    else:
        pdf.paragraph("None scheduled by the dermatologist.")

    pdf.heading("Signature")
    pdf.pairs(
        [
            ("Signed by", note.signed_by_name),
            ("Licence", f"licensed in {note.licence_jurisdiction}"),
            ("Signed at", note_pdf._when(note.signed_at.isoformat())),
            ("Note SHA-256", note.content_sha256),
        ]
    )
    return bytes(pdf.output())


def filename(note: ConsultNote) -> str:
    return f"referral-letter-{note.case_id[:8]}-{note.number}.pdf"
