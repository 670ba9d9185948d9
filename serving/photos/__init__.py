"""Patient photo intake: validation and metadata stripping (:mod:`.ingest`) and the
content-addressed file store (:mod:`.store`)."""

from serving.photos.ingest import IngestedPhoto, PhotoLimits, PhotoRejected, SanitizeError, ingest_photo
from serving.photos.store import InvalidKey, PhotoStore

__all__ = [
    "IngestedPhoto",
    "InvalidKey",
    "PhotoLimits",
    "PhotoRejected",
    "PhotoStore",
    "SanitizeError",
    "ingest_photo",
]
