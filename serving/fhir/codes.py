"""The URIs the facade names things by: its own code systems and identifier systems (under a base
in the reserved ``.invalid`` domain: names, not addresses), and the standard ones it codes with."""

from __future__ import annotations

#: the base of the facade's own canonical URLs and systems
BASE = "http://dermatriage.invalid/fhir"
#: the FHIR version the facade answers in (its path is /fhir/R4)
FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
ISSUE_TYPE = "http://hl7.org/fhir/issue-type"

# standard extensions of Questionnaire items
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MIN_LENGTH = "http://hl7.org/fhir/StructureDefinition/minLength"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"


def system(name: str) -> str:
    """One of the facade's own code systems (``CodeSystem/<name>``)."""
    return f"{BASE}/CodeSystem/{name}"


def identifier_system(name: str) -> str:
    """One of the facade's identifier systems (``sid/<name>``): ``case``, ``external-id``..."""
    return f"{BASE}/sid/{name}"
