"""A real S3-compatible server on loopback for tests: moto's server mode, in this process,
started once per run on a free port when a test first asks for it. A plugin
(tests/conftest.py)::

    def test_upload(s3_bucket: str, s3_server: S3Server) -> None:
        storage = S3Storage(s3_bucket, endpoint_url=s3_server.endpoint_url, client=s3_server.client)

Each test gets a bucket of its own (``s3_bucket``). Credentials are fake ``AWS_*``
variables, set for the run once the server starts: nothing reaches AWS.
"""

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    # One for the run (making a client reads boto3's service models: a third of a second).
    client: "S3Client"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    # Imported here: a run that needs no S3 does not pay for moto's import.
    from moto.server import ThreadedMotoServer

    from blog.media.s3 import s3_client

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)  # a line per request otherwise
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "blog-test",
            "AWS_SECRET_ACCESS_KEY": "blog-test",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint_url = f"http://{host}:{port}"
            # Trying once: a test's failure shows at once.
            client = s3_client(endpoint_url=endpoint_url, region=REGION, attempts=1)
            yield S3Server(endpoint_url=endpoint_url, client=client)
        finally:
            server.stop()
            requests_log.setLevel(level)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on ``s3_server``."""
    name = f"blog-test-{uuid.uuid4().hex[:12]}"
    s3_server.client.create_bucket(Bucket=name)
    return name
