"""The service's own labelled photos, back to training: ``dermatriage data export-labels``."""
