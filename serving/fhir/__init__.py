"""The FHIR R4 facade: the service's rows and schemas as FHIR resources, built and validated with the
``fhir.resources`` models (its R4B package: R4's structures for every resource used here) and
serialized by them; no FHIR JSON is written by hand.

``codes`` (systems and identifiers), ``questionnaire`` (the intake Questionnaire from
``model.questionnaire``), ``mapping`` (rows -> resources, pure), ``outcome`` (a domain error as an
OperationOutcome), ``registry`` (what is served: each resource type's read and searches, audited under
the cases' visibility rules), ``capability`` (the CapabilityStatement, generated from the registry) and
``bundle`` (the intake transaction Bundle read into what ``POST /v1/cases`` takes).
"""
