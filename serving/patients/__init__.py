"""Patients (pseudonymous, per organization: the intake system's ``external_id``) and their lesions.

The tables and the find-or-create used at intake; a patient's history (reads, the lesion timeline,
erasure) is ``serving.histories``, above the consult it reads.
"""
