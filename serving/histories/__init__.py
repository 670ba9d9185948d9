"""A patient's history: their cases with what was decided, the photos of each lesion over time, the
link of a case to a lesion, and erasure (GDPR/CCPA). Who may see a patient follows who may see their
cases (``serving.cases.visibility``)."""
