"""The consult note as a PDF (fpdf2, pure Python), regenerated from the note's stored content on each
download: the content is immutable, and so is the PDF's text (its creation date is the signing time).

Fonts: fpdf2 ships none beyond the PDF core fonts (Latin-1 only). DejaVu Sans (Debian's
``fonts-dejavu-core``, ``/usr/share/fonts/truetype/dejavu``; another folder with
``DERMATRIAGE_PDF_FONT_DIR``) is embedded when present, so any accent or script it covers renders as
typed. Without it the note falls back to Helvetica: Latin-1 text (é, ñ, ã, ü) still renders, anything
else is transliterated (ł -> l, “ -> ") or written as '?'; the service never needs matplotlib's copy.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from serving.consults.models import ConsultNote

DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
MONO_FILE = "DejaVuSansMono.ttf"
#: what Latin-1 lacks, in the fallback, before decomposing the rest
_PLAIN = str.maketrans(
    {"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...", "•": "-", "€": "EUR"}
    | {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Œ": "OE", "œ": "oe", "Ŀ": "L", "ŀ": "l"}
)


def font_dir() -> Path | None:
    """The folder holding DejaVu Sans (regular and bold), or None: then the core fonts and transliteration."""
    for folder in (os.environ.get("DERMATRIAGE_PDF_FONT_DIR"), DEBIAN_DEJAVU):
        if folder and all((Path(folder) / name).is_file() for name in FONT_FILES.values()):
            return Path(folder)
    return None


def latin1(text: str) -> str:
    """``text`` as the core fonts can write it: Latin-1 kept, the rest transliterated, else '?'."""
    out = []
    for char in text.translate(_PLAIN):
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(plain or "?")
    return "".join(out)


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M UTC")


def _day(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%d %b %Y") if iso else "-"


def _number(value: float) -> str:
    return f"{value:g}"


class _NotePdf(FPDF):
    def __init__(self, note: ConsultNote):
        super().__init__(format="A4")
        self.note = note
        folder = font_dir()
        self.unicode = folder is not None
        if folder is not None:
            for style, name in FONT_FILES.items():
                self.add_font("NoteSans", style, str(folder / name))
            mono = folder / MONO_FILE
            self.add_font("NoteMono", "", str(mono if mono.is_file() else folder / FONT_FILES[""]))
            self.sans, self.mono = "NoteSans", "NoteMono"
        else:
            self.sans, self.mono = "Helvetica", "Courier"
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        self.set_title(self.t(f"Consult note {note.number} - case {note.case_id}"))
        self.set_author(self.t(note.signed_by_name))
        self.set_creator("dermatriage")
        self.set_creation_date(note.signed_at)

    def t(self, value: Any) -> str:
        value = "" if value is None else str(value)
        return value if self.unicode else latin1(value)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.sans, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.t(f"Case {self.note.case_id} · note {self.note.number}"), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # -- blocks ----------------------------------------------------------------------------------

    def heading(self, words: str) -> None:
        self.ln(3)
        self.set_font(self.sans, "B", 11.5)
        self.set_fill_color(232, 238, 244)
        self.cell(0, 7, self.t(words), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def paragraph(self, words: Any, *, size: float = 10, style: str = "") -> None:
        self.set_font(self.sans, style, size)
        self.multi_cell(0, 5, self.t(words), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, rows: list[tuple[str, Any]], *, label_width: float = 38) -> None:
        for label, value in rows:
            self.set_font(self.sans, "B", 9.5)
            self.cell(label_width, 5.2, self.t(label))
            self.set_font(self.sans, "", 10)
            self.multi_cell(0, 5.2, self.t(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _patient_rows(patient: dict[str, Any]) -> list[tuple[str, Any]]:
    who = patient.get("display_name") or "Not given"
    rows: list[tuple[str, Any]] = [("Patient", who)]
    if patient.get("external_id"):
        rows.append(("Patient id", patient["external_id"]))
    born = patient.get("birth_year")
    age = patient.get("age_at_submission")
    rows.append(("Born", f"{born}" if born else (f"age {age} at submission" if age is not None else "-")))
    rows.append(("Sex", patient.get("sex") or "-"))
    return rows


def write_consult(pdf, content: dict) -> None:
    """The dermatologist's part of a released note — diagnosis, assessment, plan, prescriptions — as the
    note and the referral letter to a referring practice both print it."""
    d = content["diagnosis"]
    pdf.heading("Diagnosis")
    pdf.paragraph(f"{d['code']}  {d['title']}", size=11, style="B")
    pdf.paragraph(f"ICD-10-CM · {d['certainty']} · diagnosed {_when(d.get('diagnosed_at'))}", size=9)
    if d.get("free_text"):
        pdf.paragraph(d["free_text"])
    pdf.heading("Assessment")
    pdf.paragraph(d["assessment"])
    pdf.heading("Plan for the patient")
    pdf.paragraph(d["patient_plan"])

    pdf.heading("Prescriptions")
    if not content["prescriptions"]:
        pdf.paragraph("None with this note.")
    for i, p in enumerate(content["prescriptions"], start=1):
        pdf.paragraph(f"{i}. {p['medication']} {p['strength']} {p['form']}  (RxNorm {p['rxcui']})", style="B")
        refills = f"{p['refills']} refill" + ("" if p["refills"] == 1 else "s")
        rows = [
            ("Directions", p["directions"]),
            ("Quantity", f"{_number(p['quantity'])} {p['quantity_unit']} · {refills}"),
        ]
        if p.get("pharmacy_note"):
            rows.append(("Pharmacy note", p["pharmacy_note"]))
        pdf.pairs(rows, label_width=30)
        pdf.ln(1)


def render_pdf(note: ConsultNote) -> bytes:
    """The note, one or two A4 pages: practice, patient, case, diagnosis, assessment, plan,
    prescriptions, follow-up, and the signature block with the content hash."""
    content = note.content
    pdf = _NotePdf(note)
    pdf.alias_nb_pages()
    pdf.add_page()

    pdf.set_font(pdf.sans, "B", 17)
    pdf.cell(0, 9, pdf.t(content["practice"]["name"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.sans, "", 11)
    title = "Teledermatology consult note" + (f" (note {note.number})" if note.number > 1 else "")
    pdf.cell(0, 6, pdf.t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    case = content["case"]
    pdf.pairs(
        [
            *_patient_rows(content["patient"]),
            ("Case", case["id"]),
            ("Submitted", _when(case.get("submitted_at"))),
            ("Released", _when(note.signed_at.isoformat())),
            ("Jurisdiction", case.get("jurisdiction") or "-"),
            ("Body site", (case.get("body_site") or "-").replace("_", " ")),
        ]
    )

    write_consult(pdf, content)

    follow_up = content.get("follow_up")
    if follow_up:
        pdf.heading("Follow-up")
        pdf.pairs([("Photos due", _day(follow_up["due_at"])), ("Instructions", follow_up["instructions"])])

    pdf.heading("Signature")
    pdf.pairs(
        [
            ("Signed by", note.signed_by_name),
            ("Licence", f"licensed in {note.licence_jurisdiction}"),
            ("Signed at", _when(note.signed_at.isoformat())),
            ("Attestation", note.attestation),
        ]
    )
    pdf.set_font(pdf.sans, "B", 9.5)
    pdf.cell(38, 5.2, "Content SHA-256")
    pdf.set_font(pdf.mono, "", 8.5)
    pdf.multi_cell(0, 5.2, note.content_sha256, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.paragraph(
        "Electronically signed. The hash is SHA-256 of the note's content as released (canonical JSON); "
        "a change to the note is a new note, never an edit of this one.",
        size=8,
    )
    return bytes(pdf.output())


def filename(note: ConsultNote) -> str:
    return f"consult-note-{note.case_id[:8]}-{note.number}.pdf"
