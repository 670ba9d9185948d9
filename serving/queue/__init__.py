"""The dermatologists' queue: priority, claim and lease, SLA figures."""
