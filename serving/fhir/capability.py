"""The CapabilityStatement: generated from the registry the routes dispatch through (each type's read
and searches) and from the system-level interactions the routes serve, so that it lists exactly what
is supported."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestInteraction,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
    CapabilityStatementSoftware,
)

from serving.fhir.codes import FHIR_VERSION, MEDIA_TYPE
from serving.fhir.registry import ResourceKind


def _resource(kind: ResourceKind) -> CapabilityStatementRestResource:
    interactions = ["read", *(["search-type"] if kind.searches else [])]
    values: dict = {
        "type": kind.type,
        "documentation": kind.documentation,
        "interaction": [CapabilityStatementRestResourceInteraction(code=code) for code in interactions],
    }
    if kind.searches:
        values["searchParam"] = [
            CapabilityStatementRestResourceSearchParam(
                name=p.name, type=p.type, documentation=p.documentation
            )
            for p in kind.searches.values()
        ]
    return CapabilityStatementRestResource(**values)


def capability_statement(
    registry: Mapping[str, ResourceKind], *, base_url: str, system_interactions: Iterable[str], version: str
) -> CapabilityStatement:
    """What the server at ``base_url`` serves: every type of ``registry``, and ``system_interactions``
    (``transaction`` when the Bundle intake is served)."""
    rest: dict = {
        "mode": "server",
        "security": CapabilityStatementRestSecurity(
            description="Every operation but this statement needs an API key of the organization: "
            "'Authorization: Bearer <key>'. Its role and, for a dermatologist, their licences decide "
            "what exists for the caller; anything else is a 404 OperationOutcome.",
        ),
        "resource": [_resource(kind) for kind in registry.values()],
    }
    system = [CapabilityStatementRestInteraction(code=code) for code in system_interactions]
    if system:
        rest["interaction"] = system
    return CapabilityStatement(
        status="active",
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        kind="instance",
        software=CapabilityStatementSoftware(name="dermatriage", version=version),
        implementation=CapabilityStatementImplementation(
            description="dermatriage teledermatology: the FHIR R4 facade", url=base_url
        ),
        fhirVersion=FHIR_VERSION,
        format=[MEDIA_TYPE, "json"],
        rest=[CapabilityStatementRest(**rest)],
    )
