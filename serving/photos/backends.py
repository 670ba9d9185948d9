"""Which photo store the settings ask for: the one place a store is built (the app, the command line,
backups)."""

from __future__ import annotations

from serving.encryption import Keyring, KeyringError
from serving.photos.local import LocalPhotoStore
from serving.photos.s3 import S3Location, S3PhotoStore
from serving.photos.sealed import SealedPhotoStore
from serving.photos.store import PhotoStore
from serving.settings import Settings


class StoreMisconfigured(RuntimeError):
    """Settings that name no usable store (said at start, with the setting to change)."""


def s3_location(settings: Settings) -> S3Location:
    if not settings.s3_bucket:
        raise StoreMisconfigured("photo_store=s3 needs a bucket: set DERMATRIAGE_S3_BUCKET")
    if settings.s3_sse_kms_key_id and settings.s3_sse != "aws:kms":
        raise StoreMisconfigured("DERMATRIAGE_S3_SSE_KMS_KEY_ID is only used with DERMATRIAGE_S3_SSE=aws:kms")
    return S3Location(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        addressing_style=settings.s3_addressing_style,
        sse=settings.s3_sse,
        sse_kms_key_id=settings.s3_sse_kms_key_id,
    )


def photo_store_from(settings: Settings, *, keyring: Keyring | None) -> PhotoStore:
    """The store of ``settings``; ``keyring`` (``encryption.keyring_from(settings)``) seals the local
    folder's photos when ``photo_encryption`` is on."""
    if settings.photo_store == "s3":
        if settings.photo_encryption:
            raise StoreMisconfigured(
                "photo_encryption is for the local folder; with S3 set DERMATRIAGE_S3_SSE (AES256 or aws:kms)"
            )
        return S3PhotoStore(s3_location(settings))
    if settings.photo_encryption:
        if keyring is None:
            raise KeyringError(
                "photo_encryption needs a storage key: "
                "set DERMATRIAGE_STORAGE_KEY or DERMATRIAGE_STORAGE_KEY_FILE"
            )
        return SealedPhotoStore(settings.photo_dir, keyring)
    return LocalPhotoStore(settings.photo_dir)
