"""Two web replicas on one PostgreSQL and one Redis act as one site: a session made on one is
valid on the other, the login limits count the attempts both of them see, and a page one of them
cached changes with an upload to the other."""

import os
import re

import pytest
import requests

from tests.e2e.conftest import start_live_site, stop_live_site
from tests.factories import TwoFactorUserFactory, UserFactory
from tests.publishing.upload.conftest import basic_auth
from tests.publishing.upload.dists import make_wheel, multipart_body
from tokens.services import create_api_token

pytestmark = [pytest.mark.e2e, pytest.mark.services]
PASSWORD = "correct horse battery staple"


def _shared_redis_url() -> str:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("Replicas share their cache through Redis: set REDIS_URL=redis://...")
    # A Redis database of their own, emptied before each test, so counters start at zero.
    return re.sub(r"/\d*$", "/9", redis_url)


@pytest.fixture(scope="module")
def _replica_sites(_requires_postgres, tmp_path_factory):
    """Two servers for the module's tests: each test empties the database and the cache."""
    shared = _shared_redis_url()
    env = {"CACHE_URL": shared.replace("redis://", "rediscache://", 1), "REDIS_URL": shared}
    directory = tmp_path_factory.mktemp("replicas")
    media = directory / "shared-media"
    media.mkdir()
    env["MEDIA_ROOT"] = str(media)
    sites = [start_live_site(directory / name, env=env) for name in ("a", "b")]
    yield sites
    for site in sites:
        stop_live_site(site)


@pytest.fixture
def replicas(_replica_sites, transactional_db):
    import redis  # noqa: PLC0415 - only with Redis configured

    redis.Redis.from_url(_shared_redis_url()).flushdb()
    return _replica_sites


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]


def _log_in(session: requests.Session, site, username: str, password: str):
    url = f"{site.url}/account/login/"
    return session.post(
        url,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": _csrf(session, url),
        },
        headers={"Referer": url},
        allow_redirects=False,
        timeout=30,
    )


def test_a_session_made_on_one_replica_is_valid_on_the_other(replicas):
    first, second = replicas
    user = UserFactory(username="replicated", password=PASSWORD)
    session = requests.Session()

    assert _log_in(session, first, user.username, PASSWORD).status_code == 302
    page = session.get(f"{second.url}/account/settings/", allow_redirects=False, timeout=30)

    assert page.status_code == 200
    assert "replicated" in page.text


def test_login_limits_count_the_attempts_of_both_replicas(replicas):
    _first, second = replicas
    user = UserFactory(username="guessed", password=PASSWORD)
    session = requests.Session()

    statuses = [
        _log_in(session, replicas[n % 2], user.username, "a wrong password").status_code
        for n in range(10)
    ]
    last = _log_in(session, second, user.username, PASSWORD)

    assert statuses == [200] * 10
    # The eleventh attempt from this address is refused, though each replica saw only five.
    assert last.status_code == 429


def test_a_page_cached_on_one_replica_changes_with_an_upload_to_the_other(replicas):
    first, second = replicas
    owner = TwoFactorUserFactory(username="replicated-owner")
    _row, raw = create_api_token(user=owner, name="ci", actor=owner)

    def upload(site, version: str) -> requests.Response:
        wheel = make_wheel("replicated-pkg", version)
        body, content_type = multipart_body(
            wheel.form(), filename=wheel.filename, content=wheel.content, content_type=None
        )
        return requests.post(
            f"{site.url}/legacy/",
            data=body,
            headers={"Content-Type": content_type, "Authorization": basic_auth(raw)},
            timeout=60,
        )

    def simple_page(site) -> str:
        return requests.get(f"{site.url}/simple/replicated-pkg/", timeout=30).text

    assert upload(first, "1.0").status_code == 200
    assert "replicated_pkg-1.0" in simple_page(first)

    assert upload(second, "2.0").status_code == 200

    page = simple_page(first)
    assert "replicated_pkg-2.0" in page
    assert "replicated_pkg-1.0" in page
