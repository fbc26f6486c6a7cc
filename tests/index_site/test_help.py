import re

import pytest

from tokens.authentication import invalid_auth_message, password_auth_message

pytestmark = pytest.mark.django_db


def test_every_help_link_in_upload_errors_points_at_a_section_of_the_help_page(client, settings):
    response = client.get("/help/")
    assert response.status_code == 200
    page = response.content.decode()
    links = re.findall(r"(\S+)#([a-z-]+)", invalid_auth_message() + " " + password_auth_message())
    assert {anchor for _, anchor in links} == {"invalid-auth", "apitoken", "trusted-publishers"}
    for url, anchor in links:
        assert url == f"{settings.SITE_URL}/help/"
        assert f'id="{anchor}"' in page
