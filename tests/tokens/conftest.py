import base64

import pytest
from django.test import RequestFactory

from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory
from tokens.services import create_api_token


@pytest.fixture
def owner(db):
    return TwoFactorUserFactory()


@pytest.fixture
def project(owner):
    return RoleFactory(user=owner).project


@pytest.fixture
def other_project(owner):
    return RoleFactory(user=owner, project=ProjectFactory()).project


@pytest.fixture
def make_token(owner):
    def make(**kwargs):
        kwargs.setdefault("name", f"token {make.count}")
        make.count += 1
        return create_api_token(user=kwargs.pop("user", owner), actor=owner, **kwargs)

    make.count = 0
    return make


def request_with(raw: str | None, *, scheme: str = "basic", ip: str = "192.0.2.10", **extra):
    """A request carrying `raw` in the Authorization header, as twine or uv send it."""
    headers = {"REMOTE_ADDR": ip, **extra}
    if raw is not None:
        if scheme == "basic":
            encoded = base64.b64encode(f"__token__:{raw}".encode()).decode()
            headers["HTTP_AUTHORIZATION"] = f"Basic {encoded}"
        else:
            headers["HTTP_AUTHORIZATION"] = f"{scheme} {raw}"
    return RequestFactory().post("/legacy/", **headers)


@pytest.fixture
def owner_client(client, owner):
    """A client logged in as `owner` who re-authenticated just now."""
    import time  # noqa: PLC0415 - only this fixture needs it

    from accounts.reauth import AUTHENTICATED_AT_KEY  # noqa: PLC0415 - only this fixture needs it

    client.force_login(owner)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()
    return client
