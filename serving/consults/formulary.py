"""The curated formulary of common dermatology medications, by RxNorm ingredient (RXCUI).

A prescription names an ingredient of this list by its RXCUI and one of the strengths the
formulary lists for the chosen dose form (e.g. doxycycline 100 mg capsule, triamcinolone 0.1%
cream). Only ingredients whose RxNorm code we could state with confidence are listed; a drug that
is missing here is added with its verified RXCUI, never with a guessed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    form: str  # dose form: "cream", "ointment", "gel", "tablet", "capsule", ...
    strengths: tuple[str, ...]
    unit: str  # what the quantity counts: "g", "mL", "tablet", "capsule", "syringe", ...


@dataclass(frozen=True)
class Medication:
    rxcui: str  # RxNorm ingredient (TTY IN, or MIN for a fixed combination)
    name: str
    route: str  # "topical", "oral", "subcutaneous"
    drug_class: str
    products: tuple[Product, ...]
    synonyms: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(p.form for p in self.products)

    def product(self, form: str) -> Product | None:
        form = form.strip().lower()
        return next((p for p in self.products if p.form == form), None)


def _m(rxcui, name, route, drug_class, products, *synonyms) -> Medication:
    return Medication(
        rxcui=rxcui,
        name=name,
        route=route,
        drug_class=drug_class,
        products=tuple(Product(form, tuple(strengths), unit) for form, strengths, unit in products),
        synonyms=synonyms,
    )


def _topical(*forms_and_strengths) -> list:
    unit = {"cream": "g", "ointment": "g", "gel": "g", "lotion": "mL", "solution": "mL", "foam": "g"}
    return [(form, strengths, unit.get(form, "g")) for form, strengths in forms_and_strengths]


TOPICAL, ORAL, SUBCUT = "topical", "oral", "subcutaneous"

FORMULARY: tuple[Medication, ...] = (
    # acne and rosacea
    _m(
        "10753",
        "tretinoin",
        TOPICAL,
        "retinoid",
        _topical(("cream", ["0.025%", "0.05%", "0.1%"]), ("gel", ["0.01%", "0.025%", "0.05%"])),
        "Retin-A",
    ),
    _m(
        "6064",
        "isotretinoin",
        ORAL,
        "retinoid",
        [("capsule", ["10 mg", "20 mg", "30 mg", "40 mg"], "capsule")],
        "Accutane",
        "Absorica",
    ),
    _m(
        "2582",
        "clindamycin",
        TOPICAL,
        "antibiotic",
        _topical(("gel", ["1%"]), ("lotion", ["1%"]), ("solution", ["1%"]), ("foam", ["1%"])),
        "Cleocin T",
    ),
    _m("4053", "erythromycin", TOPICAL, "antibiotic", _topical(("gel", ["2%"]), ("solution", ["2%"]))),
    _m(
        "3640",
        "doxycycline",
        ORAL,
        "tetracycline antibiotic",
        [
            ("capsule", ["40 mg", "50 mg", "100 mg"], "capsule"),
            ("tablet", ["20 mg", "50 mg", "100 mg"], "tablet"),
        ],
        "Vibramycin",
        "Oracea",
    ),
    _m(
        "6980",
        "minocycline",
        ORAL,
        "tetracycline antibiotic",
        [
            ("capsule", ["50 mg", "75 mg", "100 mg"], "capsule"),
            ("tablet", ["50 mg", "75 mg", "100 mg"], "tablet"),
        ],
        "Minocin",
        "Solodyn",
    ),
    _m(
        "9997",
        "spironolactone",
        ORAL,
        "antiandrogen",
        [("tablet", ["25 mg", "50 mg", "100 mg"], "tablet")],
        "Aldactone",
        "hormonal acne",
    ),
    _m(
        "6922",
        "metronidazole",
        TOPICAL,
        "antibiotic",
        _topical(("cream", ["0.75%", "1%"]), ("gel", ["0.75%", "1%"]), ("lotion", ["0.75%"])),
        "MetroGel",
        "rosacea",
    ),
    _m("6069", "ivermectin", TOPICAL, "antiparasitic", _topical(("cream", ["1%"])), "Soolantra", "rosacea"),
    _m(
        "10169",
        "sulfacetamide",
        TOPICAL,
        "antibiotic",
        _topical(("lotion", ["10%"])),
        "seborrheic dermatitis",
    ),
    # corticosteroids
    _m(
        "5492",
        "hydrocortisone",
        TOPICAL,
        "corticosteroid (low potency)",
        _topical(("cream", ["1%", "2.5%"]), ("ointment", ["1%", "2.5%"]), ("lotion", ["1%", "2.5%"])),
    ),
    _m(
        "10759",
        "triamcinolone",
        TOPICAL,
        "corticosteroid (medium potency)",
        _topical(
            ("cream", ["0.025%", "0.1%", "0.5%"]),
            ("ointment", ["0.025%", "0.1%", "0.5%"]),
            ("lotion", ["0.025%", "0.1%"]),
        ),
        "Kenalog",
    ),
    _m(
        "1514",
        "betamethasone",
        TOPICAL,
        "corticosteroid (medium to high potency)",
        _topical(
            ("cream", ["0.05%", "0.1%"]), ("ointment", ["0.05%", "0.1%"]), ("lotion", ["0.05%", "0.1%"])
        ),
    ),
    _m(
        "8640",
        "prednisone",
        ORAL,
        "corticosteroid",
        [("tablet", ["5 mg", "10 mg", "20 mg", "50 mg"], "tablet")],
    ),
    _m(
        "6902",
        "methylprednisolone",
        ORAL,
        "corticosteroid",
        [("tablet", ["4 mg", "8 mg", "16 mg"], "tablet")],
        "Medrol",
    ),
    # calcineurin inhibitors and other eczema treatments
    _m(
        "42316",
        "tacrolimus",
        TOPICAL,
        "calcineurin inhibitor",
        _topical(("ointment", ["0.03%", "0.1%"])),
        "Protopic",
        "eczema",
    ),
    _m(
        "1193326",
        "ruxolitinib",
        TOPICAL,
        "JAK inhibitor",
        _topical(("cream", ["1.5%"])),
        "Opzelura",
        "vitiligo",
        "eczema",
    ),
    # antifungals
    _m(
        "6135",
        "ketoconazole",
        TOPICAL,
        "azole antifungal",
        _topical(("cream", ["2%"]), ("foam", ["2%"])) + [("shampoo", ["1%", "2%"], "mL")],
        "Nizoral",
    ),
    _m(
        "2623", "clotrimazole", TOPICAL, "azole antifungal", _topical(("cream", ["1%"]), ("solution", ["1%"]))
    ),
    _m(
        "7597",
        "nystatin",
        TOPICAL,
        "polyene antifungal",
        _topical(("cream", ["100000 units/g"]), ("ointment", ["100000 units/g"]))
        + [("powder", ["100000 units/g"], "g")],
        "candida",
    ),
    _m(
        "37801",
        "terbinafine",
        ORAL,
        "allylamine antifungal",
        [("tablet", ["250 mg"], "tablet")],
        "Lamisil",
        "onychomycosis",
    ),
    _m(
        "4450",
        "fluconazole",
        ORAL,
        "azole antifungal",
        [("tablet", ["50 mg", "100 mg", "150 mg", "200 mg"], "tablet")],
        "Diflucan",
    ),
    _m("28031", "itraconazole", ORAL, "azole antifungal", [("capsule", ["100 mg"], "capsule")], "Sporanox"),
    # antibacterials
    _m(
        "42372",
        "mupirocin",
        TOPICAL,
        "antibiotic",
        _topical(("ointment", ["2%"]), ("cream", ["2%"])),
        "Bactroban",
        "impetigo",
    ),
    _m(
        "2231",
        "cephalexin",
        ORAL,
        "cephalosporin antibiotic",
        [("capsule", ["250 mg", "500 mg"], "capsule")],
        "Keflex",
        "cellulitis",
    ),
    _m(
        "10831",
        "sulfamethoxazole / trimethoprim",
        ORAL,
        "sulfonamide antibiotic",
        [("tablet", ["400 mg / 80 mg", "800 mg / 160 mg"], "tablet")],
        "Bactrim",
        "co-trimoxazole",
    ),
    # antivirals
    _m(
        "281",
        "acyclovir",
        ORAL,
        "antiviral",
        [("tablet", ["400 mg", "800 mg"], "tablet")],
        "Zovirax",
        "herpes",
        "shingles",
    ),
    _m(
        "73645",
        "valacyclovir",
        ORAL,
        "antiviral",
        [("tablet", ["500 mg", "1 g"], "tablet")],
        "Valtrex",
        "herpes",
        "shingles",
    ),
    _m(
        "68099",
        "famciclovir",
        ORAL,
        "antiviral",
        [("tablet", ["125 mg", "250 mg", "500 mg"], "tablet")],
        "Famvir",
        "shingles",
    ),
    # skin cancer and precancer
    _m(
        "4492",
        "fluorouracil",
        TOPICAL,
        "antimetabolite",
        _topical(("cream", ["0.5%", "1%", "5%"]), ("solution", ["2%", "5%"])),
        "Efudex",
        "5-FU",
        "actinic keratosis",
    ),
    # itch
    _m(
        "5553",
        "hydroxyzine",
        ORAL,
        "antihistamine",
        [("tablet", ["10 mg", "25 mg", "50 mg"], "tablet")],
        "itch",
    ),
    _m(
        "20610",
        "cetirizine",
        ORAL,
        "antihistamine",
        [("tablet", ["5 mg", "10 mg"], "tablet")],
        "Zyrtec",
        "hives",
    ),
    _m(
        "87636",
        "fexofenadine",
        ORAL,
        "antihistamine",
        [("tablet", ["60 mg", "180 mg"], "tablet")],
        "Allegra",
        "hives",
    ),
    _m("28889", "loratadine", ORAL, "antihistamine", [("tablet", ["10 mg"], "tablet")], "Claritin", "hives"),
    _m("3638", "doxepin", TOPICAL, "antihistamine", _topical(("cream", ["5%"])), "itch"),
    _m(
        "25480",
        "gabapentin",
        ORAL,
        "neuromodulator",
        [("capsule", ["100 mg", "300 mg", "400 mg"], "capsule")],
        "itch",
        "postherpetic neuralgia",
    ),
    # keratolytics and hair
    _m(
        "9525",
        "salicylic acid",
        TOPICAL,
        "keratolytic",
        _topical(("solution", ["17%"]), ("cream", ["6%"]), ("gel", ["6%"])),
        "warts",
    ),
    _m(
        "6984",
        "minoxidil",
        TOPICAL,
        "hair growth",
        _topical(("solution", ["2%", "5%"]), ("foam", ["5%"])),
        "Rogaine",
        "hair loss",
    ),
    _m(
        "25025",
        "finasteride",
        ORAL,
        "5-alpha-reductase inhibitor",
        [("tablet", ["1 mg", "5 mg"], "tablet")],
        "Propecia",
        "hair loss",
    ),
    # systemic immunomodulators
    _m("6851", "methotrexate", ORAL, "antimetabolite", [("tablet", ["2.5 mg"], "tablet")], "psoriasis"),
    _m(
        "3008",
        "cyclosporine",
        ORAL,
        "calcineurin inhibitor",
        [("capsule", ["25 mg", "100 mg"], "capsule")],
        "Neoral",
        "psoriasis",
        "eczema",
    ),
    _m("1256", "azathioprine", ORAL, "antimetabolite", [("tablet", ["50 mg"], "tablet")], "Imuran"),
    _m(
        "68149",
        "mycophenolate mofetil",
        ORAL,
        "antimetabolite",
        [("tablet", ["500 mg"], "tablet"), ("capsule", ["250 mg"], "capsule")],
        "CellCept",
    ),
    _m(
        "5521",
        "hydroxychloroquine",
        ORAL,
        "antimalarial",
        [("tablet", ["200 mg"], "tablet")],
        "Plaquenil",
        "lupus",
    ),
    _m(
        "3108",
        "dapsone",
        ORAL,
        "sulfone",
        [("tablet", ["25 mg", "100 mg"], "tablet")],
        "dermatitis herpetiformis",
    ),
    _m(
        "1492727",
        "apremilast",
        ORAL,
        "PDE4 inhibitor",
        [("tablet", ["10 mg", "20 mg", "30 mg"], "tablet")],
        "Otezla",
        "psoriasis",
    ),
    _m("1357536", "tofacitinib", ORAL, "JAK inhibitor", [("tablet", ["5 mg", "10 mg"], "tablet")], "Xeljanz"),
    _m(
        "2196092",
        "upadacitinib",
        ORAL,
        "JAK inhibitor",
        [("tablet", ["15 mg", "30 mg"], "tablet")],
        "Rinvoq",
        "eczema",
    ),
    # biologics
    _m(
        "1876376",
        "dupilumab",
        SUBCUT,
        "IL-4 receptor antibody",
        [
            ("prefilled syringe", ["200 mg/1.14 mL", "300 mg/2 mL"], "syringe"),
            ("prefilled pen", ["200 mg/1.14 mL", "300 mg/2 mL"], "pen"),
        ],
        "Dupixent",
        "eczema",
    ),
    _m(
        "327361",
        "adalimumab",
        SUBCUT,
        "TNF inhibitor",
        [("prefilled pen", ["40 mg/0.4 mL", "40 mg/0.8 mL", "80 mg/0.8 mL"], "pen")],
        "Humira",
        "psoriasis",
        "hidradenitis",
    ),
    _m(
        "214555",
        "etanercept",
        SUBCUT,
        "TNF inhibitor",
        [("prefilled syringe", ["50 mg/mL"], "syringe")],
        "Enbrel",
        "psoriasis",
    ),
    _m(
        "847083",
        "ustekinumab",
        SUBCUT,
        "IL-12/23 antibody",
        [("prefilled syringe", ["45 mg/0.5 mL", "90 mg/mL"], "syringe")],
        "Stelara",
        "psoriasis",
    ),
    _m(
        "1599788",
        "secukinumab",
        SUBCUT,
        "IL-17A antibody",
        [("prefilled pen", ["150 mg/mL", "300 mg/2 mL"], "pen")],
        "Cosentyx",
        "psoriasis",
    ),
)

_BY_RXCUI: dict[str, Medication] = {m.rxcui: m for m in FORMULARY}
assert len(_BY_RXCUI) == len(FORMULARY), "duplicate RXCUI in the formulary"


def normalize_strength(strength: str) -> str:
    """'0.1 %' / '0.1%' / '100MG' / '100 mg' compare equal: lower-case, no spaces."""
    return re.sub(r"\s+", "", strength).lower()


def lookup(rxcui: str) -> Medication | None:
    return _BY_RXCUI.get(rxcui.strip())


def listed_strength(product: Product, strength: str) -> str | None:
    """The formulary's spelling of ``strength`` for this product, or None when it is not listed."""
    wanted = normalize_strength(strength)
    return next((s for s in product.strengths if normalize_strength(s) == wanted), None)


def search(q: str | None = None, *, limit: int = 20) -> list[Medication]:
    """Medications whose RXCUI equals ``q`` or whose name, class or synonyms contain every word of it;
    name matches first, in formulary order. No ``q``: the first ``limit``."""
    if not q or not q.strip():
        return list(FORMULARY[:limit])
    q = q.strip().lower()
    if q.isdigit():
        found = lookup(q)
        return [found] if found else []
    words = q.split()
    by_name, by_other = [], []
    for m in FORMULARY:
        if all(w in m.name for w in words):
            by_name.append(m)
        elif all(w in " ".join((m.drug_class, m.route, *m.synonyms)).lower() for w in words):
            by_other.append(m)
    return (by_name + by_other)[:limit]
