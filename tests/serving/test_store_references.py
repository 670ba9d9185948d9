"""Whether a stored file is still referenced: one rule for every table that names files of the photo
store (case photos and message attachments share it), used by the orphan sweep and by a request whose
transaction failed after it wrote its files."""

from __future__ import annotations

import base64
import hashlib

from consults_support import in_review
from factories import good_jpeg
from sqlalchemy import select

import serving.models  # noqa: F401 - every table in the metadata
from serving.consults.models import MessageAttachment
from serving.db import Base, transaction
from serving.photos.files import remove_orphans
from serving.photos.local import LocalPhotoStore
from serving.photos.references import STORE_REFERENCES, is_referenced, referenced_keys

KEY_COLUMNS = {"storage_key", "thumbnail_key"}


def test_every_table_naming_stored_files_is_listed() -> None:
    declared = {(table.name, c.name) for table in Base.metadata.tables.values() for c in table.columns}
    naming_files = {(t, c) for t, c in declared if c in KEY_COLUMNS}
    listed = {(t, c) for t, columns in STORE_REFERENCES.items() for c in columns}
    assert listed == naming_files


def test_a_file_named_only_by_a_message_attachment_is_kept(client, org, sessions, settings) -> None:
    case_id = in_review(client, org)
    body = {
        "body": "Here it is today.",
        "attachments": [
            {"filename": "today.jpg", "content_base64": base64.b64encode(good_jpeg(seed=8)).decode()}
        ],
    }
    assert (
        client.post(f"/v1/cases/{case_id}/messages", json=body, headers=org.headers("intake")).status_code
        == 201
    )
    store = LocalPhotoStore(settings.photo_dir)
    with transaction(sessions) as session:
        attachment = session.scalars(
            select(MessageAttachment).where(MessageAttachment.organization_id == org.org_id)
        ).one()
        assert is_referenced(session, attachment.storage_key)
        assert {attachment.storage_key, attachment.thumbnail_key} <= referenced_keys(session)
    stray = b"not named by any row"
    stray_key, _ = store.put(stray, sha256=hashlib.sha256(stray).hexdigest(), suffix="jpg")

    remove_orphans(sessions, store, [attachment.storage_key, attachment.thumbnail_key, stray_key])

    assert store.exists(attachment.storage_key) and store.exists(attachment.thumbnail_key)
    assert not store.exists(stray_key)
