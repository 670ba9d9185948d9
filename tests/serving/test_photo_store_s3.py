"""The S3 backend over HTTP (moto's server): server-side encryption, the prefix, integrity on read,
listing page by page, conditional writes, readiness; and the service on it: a case's photo goes to
the bucket encrypted and comes back through the API, and ``photos sweep`` clears the bucket's orphans.
(The behaviour every backend shares is tested in test_photo_store.py.)"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import cli_runner, service_settings
from consults_support import QUESTIONNAIRE
from factories import good_jpeg
from fastapi.testclient import TestClient
from s3_server import s3_server_fixture  # noqa: F401 - the s3_server fixture
from sqlalchemy import select

from serving.app import create_app
from serving.cases.models import Photo
from serving.db import transaction
from serving.photos.backends import StoreMisconfigured, photo_store_from
from serving.photos.s3 import S3PhotoStore
from serving.settings import Settings


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def s3_store(s3_server, **overrides) -> S3PhotoStore:
    return photo_store_from(Settings(**s3_server.settings(**overrides)), keyring=None)


@pytest.mark.parametrize(("sse", "kms_key"), [("AES256", None), ("aws:kms", "alias/dermatriage-photos")])
def test_objects_are_written_with_server_side_encryption(s3_server, sse, kms_key) -> None:
    store = s3_store(s3_server, s3_sse=sse, s3_sse_kms_key_id=kms_key)
    key, _ = store.put(b"photo", sha256=sha(b"photo"), suffix="jpg")
    head = s3_server.client().head_object(Bucket=store.bucket, Key=key)
    assert head["ServerSideEncryption"] == sse and head.get("SSEKMSKeyId") == kms_key


def test_objects_live_under_the_prefix_and_nothing_else_is_listed(s3_server) -> None:
    store = s3_store(s3_server, s3_prefix="/clinic-a/photos/")
    key, _ = store.put(b"x", sha256=sha(b"x"), suffix="jpg")
    client = s3_server.client()
    names = [o["Key"] for o in client.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert names == [f"clinic-a/photos/{key}"]
    client.put_object(Bucket=store.bucket, Key="clinic-a/photos/README", Body=b"not a photo")
    client.put_object(Bucket=store.bucket, Key=key, Body=b"outside the prefix")
    assert list(store.iter_keys()) == [key]


def test_a_changed_object_is_refused_on_read(s3_server) -> None:
    store = s3_store(s3_server)
    key, _ = store.put(b"original", sha256=sha(b"original"), suffix="jpg")
    s3_server.client().put_object(Bucket=store.bucket, Key=key, Body=b"tampered")
    with pytest.raises(ValueError, match="does not match"):
        store.read(key)


def test_listing_goes_page_by_page(s3_server) -> None:
    store = s3_store(s3_server)
    store.list_page_size = 2
    keys = {store.put(bytes([i]), sha256=sha(bytes([i])), suffix="png")[0] for i in range(5)}
    assert set(store.iter_keys()) == keys


def test_a_concurrent_writer_that_missed_the_head_gets_created_false(s3_server, monkeypatch) -> None:
    store = s3_store(s3_server)
    monkeypatch.setattr(store, "exists", lambda key: False)  # both writers saw no object
    assert store.put(b"same", sha256=sha(b"same"), suffix="jpg")[1] is True
    assert store.put(b"same", sha256=sha(b"same"), suffix="jpg")[1] is False  # If-None-Match: 412


def test_readiness_fails_without_the_bucket_or_the_service(s3_server) -> None:
    assert s3_store(s3_server).writable()
    assert not photo_store_from(
        Settings(**{**s3_server.settings(), "s3_bucket": "no-such-bucket"}), keyring=None
    ).writable()
    with pytest.raises(StoreMisconfigured, match="DERMATRIAGE_S3_BUCKET"):
        photo_store_from(Settings(photo_store="s3"), keyring=None)
    with pytest.raises(StoreMisconfigured, match="S3_SSE"):
        photo_store_from(Settings(photo_store="s3", s3_bucket="b", photo_encryption=True), keyring=None)


def test_a_case_submitted_with_s3_is_stored_encrypted_in_the_bucket_and_served_back(
    database_url, tmp_path, s3_server, org, sessions
) -> None:
    options = s3_server.settings(s3_sse="AES256", s3_prefix="cases")
    settings = service_settings(database_url, tmp_path / "photos", **options)
    photo = good_jpeg(seed=3)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["checks"]["photo_store"] == "ok"
        r = client.post(
            "/v1/cases",
            data={"questionnaire": json.dumps(QUESTIONNAIRE)},
            files=[("photos", ("a.jpg", photo, "image/jpeg"))],
            headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
        )
        assert r.status_code == 201, r.text
        (shown,) = r.json()["photos"]
        served = client.get(shown["image_url"], headers=org.headers())
        thumbnail = client.get(shown["thumbnail_url"], headers=org.headers())
    with transaction(sessions) as session:
        row = session.scalars(select(Photo).where(Photo.id == shown["id"])).one()
        keys = (row.storage_key, row.thumbnail_key)
    bucket = s3_server.client()
    for key, response in zip(keys, (served, thumbnail), strict=True):
        stored = bucket.get_object(Bucket=options["s3_bucket"], Key=f"cases/{key}")
        assert stored["ServerSideEncryption"] == "AES256"
        assert response.status_code == 200 and response.content == stored["Body"].read()
    assert not (tmp_path / "photos").exists() or not any((tmp_path / "photos").iterdir())

    orphan = s3_store(s3_server, s3_bucket=options["s3_bucket"], s3_prefix="cases")
    orphan_key, _ = orphan.put(b"left by a crash", sha256=sha(b"left by a crash"), suffix="jpg")
    env = {
        "DATABASE_URL": database_url,
        **{f"DERMATRIAGE_{name.upper()}": str(value) for name, value in options.items()},
    }
    out = cli_runner(env)("photos", "sweep", "--grace", "0").stdout
    assert f"1 orphaned file(s) removed from s3://{options['s3_bucket']}/cases/" in out
    assert sorted(orphan.iter_keys()) == sorted(keys)
    assert not orphan.exists(orphan_key)


def test_a_service_without_conditional_writes_still_stores(s3_server, monkeypatch) -> None:
    store = s3_store(s3_server)
    put_object = store.client.put_object

    def no_if_none_match(**kwargs):
        if "IfNoneMatch" in kwargs:
            error = {"Error": {"Code": "NotImplemented", "Message": "If-None-Match"}}
            raise ClientError(error, "PutObject")
        return put_object(**kwargs)

    monkeypatch.setattr(store.client, "put_object", no_if_none_match)
    assert store.put(b"kept", sha256=sha(b"kept"), suffix="jpg")[1] is True
    assert store.conditional_writes is False and store.read(store.key_for(sha(b"kept"), "jpg")) == b"kept"
