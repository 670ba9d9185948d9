"""The curated list of common dermatology diagnoses a dermatologist codes a case with (ICD-10-CM).

Each entry is a billable ICD-10-CM code with its title and a few words patients and
dermatologists search by. ``search(q)`` matches the code prefix, the title and the synonyms;
``lookup(code)`` is the only way a diagnosis enters a case, so a code outside this list is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches


@dataclass(frozen=True)
class DiagnosisCode:
    code: str  # ICD-10-CM, with the dot, e.g. "L70.0"
    title: str
    group: str
    synonyms: tuple[str, ...] = ()


def _d(code: str, title: str, group: str, *synonyms: str) -> DiagnosisCode:
    return DiagnosisCode(code=code, title=title, group=group, synonyms=synonyms)


ACNE, ECZEMA, PSORIASIS, INFECTION, GROWTH, CANCER, PIGMENT, HAIR_NAIL, URTICARIA, OTHER = (
    "acne and rosacea",
    "dermatitis and eczema",
    "psoriasis and papulosquamous",
    "infections and infestations",
    "benign growths and cysts",
    "skin cancer and precancer",
    "pigmentation",
    "hair and nails",
    "urticaria and reactions",
    "other",
)

DIAGNOSES: tuple[DiagnosisCode, ...] = (
    # acne and rosacea
    _d("L70.0", "Acne vulgaris", ACNE, "acne", "pimples", "comedones"),
    _d("L70.1", "Acne conglobata", ACNE, "nodulocystic acne"),
    _d("L70.5", "Acne excoriee", ACNE, "picked acne"),
    _d("L71.0", "Perioral dermatitis", ACNE, "periorificial dermatitis"),
    _d("L71.1", "Rhinophyma", ACNE),
    _d("L71.8", "Other rosacea", ACNE, "papulopustular rosacea", "ocular rosacea"),
    _d("L71.9", "Rosacea, unspecified", ACNE, "rosacea", "facial redness"),
    _d("L73.0", "Acne keloid", ACNE, "acne keloidalis nuchae"),
    _d("L73.2", "Hidradenitis suppurativa", ACNE, "acne inversa", "HS"),
    _d("L73.9", "Follicular disorder, unspecified", ACNE, "folliculitis"),
    # dermatitis and eczema
    _d("L20.9", "Atopic dermatitis, unspecified", ECZEMA, "eczema", "atopic eczema"),
    _d("L20.82", "Flexural eczema", ECZEMA, "eczema"),
    _d("L21.0", "Seborrhea capitis", ECZEMA, "dandruff", "cradle cap"),
    _d("L21.1", "Seborrheic infantile dermatitis", ECZEMA, "cradle cap"),
    _d("L21.9", "Seborrheic dermatitis, unspecified", ECZEMA, "seborrheic eczema", "dandruff"),
    _d("L22", "Diaper dermatitis", ECZEMA, "nappy rash", "diaper rash"),
    _d("L23.7", "Allergic contact dermatitis due to plants, except food", ECZEMA, "poison ivy", "poison oak"),
    _d("L23.9", "Allergic contact dermatitis, unspecified cause", ECZEMA, "contact allergy", "eczema"),
    _d("L24.9", "Irritant contact dermatitis, unspecified cause", ECZEMA, "hand eczema", "irritant"),
    _d("L25.9", "Unspecified contact dermatitis, unspecified cause", ECZEMA, "contact dermatitis"),
    _d("L28.0", "Lichen simplex chronicus", ECZEMA, "neurodermatitis"),
    _d("L28.1", "Prurigo nodularis", ECZEMA, "itchy nodules"),
    _d("L29.9", "Pruritus, unspecified", ECZEMA, "itch", "itching"),
    _d("L30.0", "Nummular dermatitis", ECZEMA, "discoid eczema"),
    _d("L30.1", "Dyshidrosis [pompholyx]", ECZEMA, "dyshidrotic eczema", "hand eczema"),
    _d("L30.4", "Erythema intertrigo", ECZEMA, "intertrigo"),
    _d("L30.9", "Dermatitis, unspecified", ECZEMA, "eczema", "rash"),
    _d("L85.3", "Xerosis cutis", ECZEMA, "dry skin"),
    # psoriasis and papulosquamous
    _d("L40.0", "Psoriasis vulgaris", PSORIASIS, "plaque psoriasis", "psoriasis"),
    _d("L40.1", "Generalized pustular psoriasis", PSORIASIS, "pustular psoriasis"),
    _d("L40.3", "Pustulosis palmaris et plantaris", PSORIASIS, "palmoplantar pustulosis"),
    _d("L40.4", "Guttate psoriasis", PSORIASIS, "psoriasis"),
    _d("L40.50", "Arthropathic psoriasis, unspecified", PSORIASIS, "psoriatic arthritis"),
    _d("L40.9", "Psoriasis, unspecified", PSORIASIS, "psoriasis"),
    _d("L42", "Pityriasis rosea", PSORIASIS, "herald patch"),
    _d("L43.9", "Lichen planus, unspecified", PSORIASIS, "lichen planus"),
    _d("L44.0", "Pityriasis rubra pilaris", PSORIASIS, "PRP"),
    _d("L11.1", "Transient acantholytic dermatosis [Grover]", PSORIASIS, "Grover disease"),
    # infections and infestations
    _d("B35.0", "Tinea barbae and tinea capitis", INFECTION, "scalp ringworm", "fungal"),
    _d("B35.1", "Tinea unguium", INFECTION, "onychomycosis", "fungal nail", "fungal"),
    _d("B35.3", "Tinea pedis", INFECTION, "athlete's foot", "fungal"),
    _d("B35.4", "Tinea corporis", INFECTION, "ringworm", "fungal"),
    _d("B35.6", "Tinea cruris", INFECTION, "jock itch", "fungal"),
    _d("B35.9", "Dermatophytosis, unspecified", INFECTION, "ringworm", "fungal"),
    _d("B36.0", "Pityriasis versicolor", INFECTION, "tinea versicolor", "fungal"),
    _d("B37.2", "Candidiasis of skin and nail", INFECTION, "yeast infection", "candida"),
    _d("B07.0", "Plantar wart", INFECTION, "verruca", "wart"),
    _d("B07.9", "Viral wart, unspecified", INFECTION, "wart", "verruca vulgaris"),
    _d("A63.0", "Anogenital (venereal) warts", INFECTION, "condyloma", "genital warts"),
    _d("B08.1", "Molluscum contagiosum", INFECTION, "molluscum"),
    _d("B00.1", "Herpesviral vesicular dermatitis", INFECTION, "cold sore", "herpes labialis"),
    _d("B01.9", "Varicella without complication", INFECTION, "chickenpox"),
    _d("B02.9", "Zoster without complications", INFECTION, "shingles", "herpes zoster"),
    _d("L01.00", "Impetigo, unspecified", INFECTION, "school sores"),
    _d("L02.91", "Cutaneous abscess, unspecified", INFECTION, "boil", "furuncle", "abscess"),
    _d("L03.90", "Cellulitis, unspecified", INFECTION, "skin infection"),
    _d("B86", "Scabies", INFECTION, "mites"),
    _d("B85.0", "Pediculosis due to Pediculus humanus capitis", INFECTION, "head lice", "lice"),
    # benign growths and cysts
    _d("D22.9", "Melanocytic nevi, unspecified", GROWTH, "mole", "nevus", "naevus"),
    _d("L82.0", "Inflamed seborrheic keratosis", GROWTH, "irritated seborrheic keratosis"),
    _d("L82.1", "Other seborrheic keratosis", GROWTH, "seborrheic keratosis", "age spot", "barnacle"),
    _d("D23.9", "Other benign neoplasm of skin, unspecified", GROWTH, "dermatofibroma", "benign growth"),
    _d("D18.01", "Hemangioma of skin and subcutaneous tissue", GROWTH, "cherry angioma", "hemangioma"),
    _d("D17.9", "Benign lipomatous neoplasm, unspecified", GROWTH, "lipoma"),
    _d("L72.0", "Epidermal cyst", GROWTH, "epidermoid cyst", "cyst"),
    _d("L72.11", "Pilar cyst", GROWTH, "trichilemmal cyst", "cyst"),
    _d("L72.3", "Sebaceous cyst", GROWTH, "cyst"),
    _d("L91.0", "Hypertrophic scar", GROWTH, "keloid", "scar"),
    _d("L91.8", "Other hypertrophic disorders of the skin", GROWTH, "skin tag", "acrochordon"),
    _d("L98.0", "Pyogenic granuloma", GROWTH, "lobular capillary hemangioma"),
    _d("L84", "Corns and callosities", GROWTH, "corn", "callus"),
    _d("L92.0", "Granuloma annulare", GROWTH),
    # skin cancer and precancer
    _d("L57.0", "Actinic keratosis", CANCER, "solar keratosis", "precancer", "AK"),
    _d("C43.9", "Malignant melanoma of skin, unspecified", CANCER, "melanoma", "skin cancer"),
    _d("D03.9", "Melanoma in situ, unspecified", CANCER, "melanoma in situ", "lentigo maligna"),
    _d("C44.91", "Basal cell carcinoma of skin, unspecified", CANCER, "BCC", "skin cancer"),
    _d("C44.92", "Squamous cell carcinoma of skin, unspecified", CANCER, "SCC", "skin cancer"),
    _d("D04.9", "Carcinoma in situ of skin, unspecified", CANCER, "Bowen disease", "SCC in situ"),
    _d("D48.5", "Neoplasm of uncertain behavior of skin", CANCER, "atypical", "dysplastic nevus"),
    _d("D49.2", "Neoplasm of unspecified behavior of bone, soft tissue, and skin", CANCER, "unclear lesion"),
    # pigmentation
    _d("L80", "Vitiligo", PIGMENT, "white patches", "depigmentation"),
    _d("L81.0", "Postinflammatory hyperpigmentation", PIGMENT, "dark marks", "PIH"),
    _d("L81.1", "Chloasma", PIGMENT, "melasma"),
    _d("L81.4", "Other melanin hyperpigmentation", PIGMENT, "lentigo", "sun spots", "freckles"),
    # hair and nails
    _d("L63.9", "Alopecia areata, unspecified", HAIR_NAIL, "patchy hair loss", "hair loss"),
    _d("L64.9", "Androgenic alopecia, unspecified", HAIR_NAIL, "pattern hair loss", "hair loss"),
    _d("L65.0", "Telogen effluvium", HAIR_NAIL, "hair shedding", "hair loss"),
    _d("L60.0", "Ingrowing nail", HAIR_NAIL, "ingrown toenail"),
    _d("L60.3", "Nail dystrophy", HAIR_NAIL, "nail changes"),
    # urticaria, reactions and autoimmune
    _d("L50.0", "Allergic urticaria", URTICARIA, "hives"),
    _d("L50.1", "Idiopathic urticaria", URTICARIA, "chronic hives", "hives"),
    _d("L50.9", "Urticaria, unspecified", URTICARIA, "hives", "wheals"),
    _d(
        "L27.0",
        "Generalized skin eruption due to drugs and medicaments taken internally",
        URTICARIA,
        "drug rash",
        "drug eruption",
    ),
    _d("L51.9", "Erythema multiforme, unspecified", URTICARIA, "target lesions"),
    _d("L52", "Erythema nodosum", URTICARIA, "tender nodules shins"),
    _d("L56.4", "Polymorphous light eruption", URTICARIA, "sun allergy", "PMLE"),
    _d("L10.0", "Pemphigus vulgaris", URTICARIA, "blisters", "pemphigus"),
    _d("L12.0", "Bullous pemphigoid", URTICARIA, "blisters", "pemphigoid"),
    _d("L13.0", "Dermatitis herpetiformis", URTICARIA, "celiac rash"),
    _d("L93.0", "Discoid lupus erythematosus", URTICARIA, "DLE", "cutaneous lupus"),
    _d("L94.0", "Localized scleroderma [morphea]", URTICARIA, "morphea"),
    _d("L90.0", "Lichen sclerosus et atrophicus", URTICARIA, "lichen sclerosus"),
    # other
    _d("L74.510", "Primary focal hyperhidrosis, axilla", OTHER, "sweating", "hyperhidrosis"),
    _d("L90.5", "Scar conditions and fibrosis of skin", OTHER, "scar"),
    _d("L98.9", "Disorder of the skin and subcutaneous tissue, unspecified", OTHER, "skin problem"),
)

_BY_CODE: dict[str, DiagnosisCode] = {d.code: d for d in DIAGNOSES}
assert len(_BY_CODE) == len(DIAGNOSES), "duplicate ICD-10 code in the catalogue"


def normalize_code(code: str) -> str:
    """'l700' / 'L70.0 ' / 'l70.0' -> 'L70.0' (ICD-10-CM puts the dot after the third character)."""
    raw = code.strip().upper().replace(".", "")
    return raw if len(raw) <= 3 else f"{raw[:3]}.{raw[3:]}"


def lookup(code: str) -> DiagnosisCode | None:
    return _BY_CODE.get(normalize_code(code))


def search(q: str | None = None, *, limit: int = 20) -> list[DiagnosisCode]:
    """Entries whose code starts with ``q`` or whose title or synonyms contain every word of ``q``;
    code matches first, then title matches, each in catalogue order. No ``q``: the first ``limit``."""
    if not q or not q.strip():
        return list(DIAGNOSES[:limit])
    q = q.strip().lower()
    code_q = q.replace(".", "")
    words = q.split()
    by_code, by_title, by_synonym = [], [], []
    for d in DIAGNOSES:
        if d.code.lower().replace(".", "").startswith(code_q):
            by_code.append(d)
        elif all(w in d.title.lower() for w in words):
            by_title.append(d)
        elif all(w in " ".join((d.group, *d.synonyms)).lower() for w in words):
            by_synonym.append(d)
    return (by_code + by_title + by_synonym)[:limit]


def _plain(text: str) -> str:
    """Case and extra spaces ignored: '  Basal  Cell carcinoma ' -> 'basal cell carcinoma'."""
    return " ".join((text or "").casefold().split())


@dataclass(frozen=True)
class Resolution:
    """What a typed diagnosis names: ``entry`` when it names exactly one catalogue entry, else None and
    ``candidates``, the closest entries (several that match, or the nearest spellings)."""

    text: str
    entry: DiagnosisCode | None
    candidates: tuple[DiagnosisCode, ...] = ()
    #: several entries matched equally (the candidates), rather than none
    ambiguous: bool = False

    def describe(self, limit: int = 5) -> str:
        """'L20.9 Atopic dermatitis, unspecified; L30.9 Dermatitis, unspecified' (the closest)."""
        return "; ".join(f"{d.code} {d.title}" for d in self.candidates[:limit])


def resolve(text: str | None) -> Resolution:
    """The one rule by which typed text names a catalogue entry (the pages' forms and the API):

    1. a picked option 'L70.0 — Acne vulgaris', or text starting with a catalogue code ('l70.0');
    2. else the entry whose title or one synonym is the text (case and extra spaces ignored), when
       exactly one entry has it;
    3. else the entry whose title or synonyms hold every word of the text, when exactly one does.

    Several entries matching at a step is ambiguous: no entry, those as the candidates. Nothing
    matching: the entries of ``search`` (code prefix, words), else the nearest spellings."""
    raw = (text or "").strip()
    plain = _plain(raw)
    if not plain:
        return Resolution(raw, None)
    first = raw.replace("\u2014", " ").split()[0]
    if lookup(first) is not None:
        return Resolution(raw, lookup(first))
    exact = [d for d in DIAGNOSES if plain in (_plain(d.title), *(_plain(s) for s in d.synonyms))]
    if len(exact) == 1:
        return Resolution(raw, exact[0])
    if exact:
        return Resolution(raw, None, tuple(exact), ambiguous=True)
    words = plain.split()
    containing = [d for d in DIAGNOSES if all(w in _plain(" ".join((d.title, *d.synonyms))) for w in words)]
    if len(containing) == 1:
        return Resolution(raw, containing[0])
    if containing:
        return Resolution(raw, None, tuple(containing), ambiguous=True)
    return Resolution(raw, None, tuple(search(raw, limit=5)) or nearest(plain))


def nearest(plain: str, limit: int = 5) -> tuple[DiagnosisCode, ...]:
    """The entries whose title or a synonym is spelled closest to ``plain`` (a typo, a variant)."""
    names: dict[str, DiagnosisCode] = {}
    for d in DIAGNOSES:
        for name in (d.title, *d.synonyms):
            names.setdefault(_plain(name), d)
    close = get_close_matches(plain, list(names), n=limit * 3, cutoff=0.5)
    return tuple(dict.fromkeys(names[c] for c in close))[:limit]
