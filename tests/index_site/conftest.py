"""Dependencies the outage and health tests take down, and a clean outage-episode state."""

import shutil
from contextlib import suppress

import pytest
from botocore.config import Config
from django.db import DatabaseError, connections
from django.db.utils import ConnectionHandler
from django.test import Client

from index_site.outages import episodes
from tests.e2e.conftest import free_port
from tests.factories import TwoFactorUserFactory
from tests.outage_servers import PrivateRedis, TcpProxy
from tokens.services import create_api_token


@pytest.fixture
def postgresql_connections_cut():
    """For tests that terminate PostgreSQL backends: skipped elsewhere, and the connection is
    replaced afterwards if it died, since the database flush after each test needs a live one."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("Needs PostgreSQL (DATABASE_URL).")
    yield
    connection = connections["default"]
    if connection.connection is not None and not connection.is_usable():
        connection.close()


@pytest.fixture(autouse=True)
def _fresh_episodes():
    episodes.reset()
    yield
    episodes.reset()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def database(transactional_db):
    """The test's database, reached through a proxy the test can cut."""
    original = connections["default"]
    if original.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL (DATABASE_URL).")
    target = original.settings_dict
    proxy = TcpProxy(target["HOST"] or "127.0.0.1", int(target["PORT"] or 5432))
    wrapper = ConnectionHandler({"default": {**target, "HOST": "127.0.0.1", "PORT": proxy.port}})[
        "default"
    ]
    connections["default"] = wrapper
    try:
        yield proxy
    finally:
        proxy.restore()
        with suppress(DatabaseError):
            wrapper.close()
        connections["default"] = original
        proxy.close()


@pytest.fixture
def private_redis(settings):
    """The cache on a Redis server of the test's own."""
    server = PrivateRedis()
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    yield server
    server.close()


@pytest.fixture
def storage_gone(settings, tmp_path):
    """A media directory whose mount point became a plain file: every access fails."""
    mount = tmp_path / "mount"
    media = mount / "media"

    def unmount() -> None:
        shutil.rmtree(mount, ignore_errors=True)
        mount.write_text("not a directory")

    settings.MEDIA_ROOT = media
    return unmount


@pytest.fixture
def s3_unreachable(settings):
    """Object storage (S3, through django-storages) at an address nothing listens on."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "gatehouse",
                "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                # One attempt: botocore would otherwise retry with backoff for seconds.
                "client_config": Config(connect_timeout=1, retries={"total_max_attempts": 1}),
            },
        },
    }


@pytest.fixture
def outage_client() -> Client:
    """A test client that answers as a server would when a view or middleware raises: outages
    raised in middleware reach handler500, which Django's test client would re-raise."""
    return Client(raise_request_exception=False)


@pytest.fixture
def token(transactional_db) -> str:
    """An API token of `uploader`, a user with a second factor."""
    user = TwoFactorUserFactory(username="uploader")
    _row, raw = create_api_token(user=user, name="ci upload", actor=user)
    return raw
