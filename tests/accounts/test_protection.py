"""The one page declaration: what it refuses to declare, and the policy it asks."""

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.protection import Need, protected, protection_of
from tests.factories import UserFactory


@pytest.mark.parametrize(
    "needs",
    [(), (Need.LOGIN, Need.PENDING_LOGIN), (Need.PENDING_LOGIN, Need.FRESH_AUTH)],
    ids=["nothing", "login and pending login", "pending login and fresh authentication"],
)
def test_a_declaration_that_cannot_be_met_is_refused_at_start_up(needs):
    with pytest.raises(ImproperlyConfigured):
        protected(*needs)


def test_only_the_second_login_step_may_answer_its_refusals_in_json():
    protected(Need.PENDING_LOGIN, answers_json=True)
    with pytest.raises(ImproperlyConfigured):
        protected(Need.FRESH_AUTH, answers_json=True)


def test_second_factor_and_fresh_authentication_imply_a_login():
    @protected(Need.FRESH_AUTH)
    def page(request):
        return HttpResponse("done")

    protection = protection_of(page)
    assert protection is not None
    assert protection.needs == {Need.LOGIN, Need.FRESH_AUTH}


@pytest.mark.django_db
def test_a_user_outside_the_critical_policy_reaches_a_second_factor_page(settings):
    settings.TWO_FACTOR_POLICY = "critical"

    @protected(Need.SECOND_FACTOR)
    def page(request):
        return HttpResponse("done")

    request = RequestFactory().get("/manage/projects/")
    request.user = UserFactory()
    request.session = {}
    request._messages = FallbackStorage(request)
    assert page(request).content == b"done"
