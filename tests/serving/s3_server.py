"""moto's standalone S3 server on a free local port, in a thread: the S3 backend is tested over HTTP,
as boto3 talks to AWS or MinIO. To have the ``s3_server`` fixture in a test module::

    from s3_server import s3_server_fixture  # noqa: F401 - the s3_server fixture

    def test_something(s3_server, tmp_path):
        settings = service_settings(url, tmp_path / "photos", **s3_server.settings())  # a new bucket

For the fixture's lifetime, boto3's standard credential chain finds moto's dummy credentials in the
environment (and no shared config file), like a deployment would find its own.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        bucket = f"photos-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def settings(self, **overrides) -> dict:
        """Settings for a store in a new bucket of this server (path-style, as for MinIO)."""
        return {
            "photo_store": "s3",
            "s3_bucket": self.new_bucket(),
            "s3_endpoint_url": self.endpoint,
            "s3_region": REGION,
            "s3_addressing_style": "path",
            **overrides,
        }


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture() -> Iterator[S3Server]:
    saved = {name: os.environ.get(name) for name in _ENV}
    os.environ.update(_ENV)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
