"""The photo store in a bucket of any S3-compatible service (AWS S3, MinIO, ...), through boto3.

An object's name is the bucket prefix and its key (``<prefix>ab/cd/<sha256>.<suffix>``).

* **Integrity**: ``put`` checks the SHA-256 before sending, and sends ``Content-MD5`` and
  ``x-amz-checksum-sha256`` so the service refuses bytes changed on the way; ``read`` checks the
  SHA-256 of what came back against the key.
* **Idempotent**: a ``HEAD`` first (an object that exists is not sent again), then a conditional
  ``PUT`` (``If-None-Match: *``): of concurrent writers one creates the object, the others get
  ``412`` and report ``created=False``. A service without conditional writes overwrites the object
  with the same bytes, which is harmless for content-addressed objects. S3 writes are atomic, so
  no temporary object is ever visible and there is nothing to sweep.
* **Encrypted at rest** by the service when ``s3_sse`` asks for it (``AES256`` or ``aws:kms``).
* **Orphan sweep**: ``iter_keys`` lists the prefix (``ListObjectsV2``, page by page) and ``mtime`` is
  the object's ``LastModified``.
* **Credentials** come from boto3's standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
  ``AWS_PROFILE``, shared config files, an instance or task role); they are never logged.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from serving.photos.store import check_content, is_key, key_for, parse_key

_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    sse: Literal["none", "AES256", "aws:kms"] = "none"
    sse_kms_key_id: str | None = None

    @property
    def normalized_prefix(self) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/" if prefix else ""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3PhotoStore:
    key_for = staticmethod(key_for)
    list_page_size = 1000  # keys per ListObjectsV2 request (the most S3 gives)
    conditional_writes = True  # If-None-Match: * (off by itself on a service that answers NotImplemented)

    def __init__(self, where: S3Location, *, client=None) -> None:
        self.where = where
        self.bucket = where.bucket
        self.prefix = where.normalized_prefix
        self.location = f"s3://{self.bucket}/{self.prefix}"
        self.client = client or boto3.client(
            "s3",
            endpoint_url=where.endpoint_url,
            region_name=where.region,
            config=Config(
                s3={"addressing_style": where.addressing_style},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 4, "mode": "standard"},
            ),
        )

    def _name(self, key: str) -> str:
        parse_key(key)
        return self.prefix + key

    def _encryption(self) -> dict[str, str]:
        if self.where.sse == "none":
            return {}
        extra = {"ServerSideEncryption": self.where.sse}
        if self.where.sse == "aws:kms" and self.where.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.where.sse_kms_key_id
        return extra

    def put(self, content: bytes, *, sha256: str, suffix: str) -> tuple[str, bool]:
        key = check_content(content, sha256, suffix)
        conflicts = 0
        while not self.exists(key):
            try:
                self._put(key, content)
                return key, True
            except ClientError as exc:
                code = _code(exc)
                if code in ("PreconditionFailed", "412"):
                    return key, False  # a concurrent writer created it first
                if code == "NotImplemented" and self.conditional_writes:
                    self.conditional_writes = False  # a service without If-None-Match: plain writes
                elif code == "ConditionalRequestConflict" and conflicts < 3:
                    conflicts += 1  # a concurrent write was in flight: look again
                else:
                    raise
        return key, False

    def _put(self, key: str, content: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._name(key),
            Body=content,
            ContentMD5=base64.b64encode(hashlib.md5(content).digest()).decode(),  # noqa: S324 - not for security
            ChecksumSHA256=base64.b64encode(hashlib.sha256(content).digest()).decode(),
            **({"IfNoneMatch": "*"} if self.conditional_writes else {}),
            **self._encryption(),
        )

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def read(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(key) from None
            raise
        sha256, suffix = parse_key(key)
        check_content(body, sha256, suffix)
        return body

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def mtime(self, key: str) -> float:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return head["LastModified"].timestamp()

    def iter_keys(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"PageSize": self.list_page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if is_key(key):
                    yield key

    def sweep_temp_files(self, older_than_s: float = 3600.0) -> int:
        return 0  # single PUTs are atomic: a failed write leaves nothing behind

    def writable(self) -> bool:
        """The bucket answers with these credentials (a HEAD: readiness probes write nothing)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return True
        except (ClientError, BotoCoreError):
            return False
