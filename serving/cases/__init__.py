"""Cases: intake submissions, their photos, triage results and the case state machine."""
