"""The embedded default SITE_URL is a host name WebAuthn accepts, and everything agrees on it."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.checks import run_checks

from index_site.checks import check_site_url

REPO = Path(__file__).resolve().parents[2]
IP_WARNING = (
    "SITE_URL {url} names an IP address: browsers refuse security keys and passkeys on an IP "
    "address; use a host name such as localhost."
)


def _embedded(expression: str) -> str:
    """`expression` evaluated as `make run` sees it: DEBUG on, no SITE_URL in the environment."""
    env = {key: value for key, value in os.environ.items() if key != "SITE_URL"}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="index_site.settings")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from accounts.two_factor.security_keys import relying_party_id, expected_origin; "
        f"from index_site.links import absolute_url; print({expression})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_embedded_default_site_url_is_localhost_and_the_server_binds_it():
    site_url = _embedded("settings.SITE_URL")
    assert site_url == "http://localhost:8000"
    parts = urlsplit(site_url)
    web = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    assert f"runserver {parts.hostname}:{parts.port}" in web
    readme = (REPO / "README.md").read_text()
    assert "127.0.0.1:8000" not in readme
    assert f"make run    # the whole site on {site_url}/" in readme
    assert f"| `SITE_URL` | `{site_url}` |" in readme


def test_embedded_email_links_and_webauthn_rp_id_are_on_localhost():
    assert _embedded("relying_party_id(), expected_origin(), absolute_url('help')") == (
        "localhost http://localhost:8000 http://localhost:8000/help/"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://10.0.0.7",
        "https://192.168.1.20:8443",
        "http://[::1]:8000",
        "http://[2001:db8::1]",
    ],
)
def test_an_ip_address_in_site_url_is_warned_about(settings, url):
    settings.SITE_URL = url
    (warning,) = check_site_url(None)
    assert warning.id == "index_site.W001"
    assert warning.msg == IP_WARNING.format(url=url)
    assert warning in run_checks()


@pytest.mark.parametrize(
    "url", ["http://localhost:8000", "https://index.example.com", "http://1.2.3.4.example.com"]
)
def test_a_host_name_in_site_url_passes(settings, url):
    settings.SITE_URL = url
    assert check_site_url(None) == []
