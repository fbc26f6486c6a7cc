"""Admin: a user's methods are visible without secrets; a reset needs a reason and is audited."""

import pytest
from django.urls import reverse

from accounts.models import RecoveryCode, TOTPDevice, WebAuthnCredential
from accounts.two_factor.recovery_codes import generate_recovery_codes
from accounts.two_factor.totp import totp_secret_base32
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.accounts.two_factor.conftest import enable_security_key, enable_totp
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory, UserFactory


@pytest.fixture
def admin_client(client, db, clock):
    admin_user = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    log_in_for_admin(client, admin_user)
    client.admin_user = admin_user
    return client


@pytest.fixture
def member(db, clock):
    user = UserFactory()
    enable_totp(user)
    enable_security_key(user, label="Office key")
    generate_recovery_codes(user=user, actor=user, request=None)
    return user


def test_user_page_lists_methods_but_no_secret(admin_client, member):
    page = admin_client.get(reverse("admin:accounts_user_change", args=[member.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "Office key" in content
    assert "Authenticator app: on" in content
    assert "unused recovery codes: 8" in content
    secret = totp_secret_base32(TOTPDevice.objects.get(user=member).encrypted_secret)
    assert secret not in content
    credential = WebAuthnCredential.objects.get(user=member)
    assert bytes(credential.public_key).hex() not in content
    for code_hash in RecoveryCode.objects.filter(user=member).values_list("code_hash", flat=True):
        assert code_hash not in content


def test_reset_needs_a_reason(admin_client, member):
    url = reverse("admin:accounts_user_reset_two_factor", args=[member.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"reason": "   "})
    assert response.status_code == 200
    assert TOTPDevice.objects.filter(user=member).exists()
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_TWO_FACTOR_RESET)


def test_reset_removes_every_method_records_the_reason_and_emails(admin_client, member):
    url = reverse("admin:accounts_user_reset_two_factor", args=[member.pk])
    response = admin_client.post(url, {"reason": "Lost phone and codes; identity checked by call"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert not WebAuthnCredential.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(user=member).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_TWO_FACTOR_RESET)
    assert event.actor_id == admin_client.admin_user.pk
    assert event.user_id == member.pk
    assert event.data["reason"] == "Lost phone and codes; identity checked by call"
    email = OutboxEmail.objects.get(template="two_factor/reset")
    assert "Lost phone and codes" in email.body_text
    assert "http://testserver/account/two-factor/" in email.body_text


def test_staff_without_change_permission_cannot_reset(client, clock, member):
    staff = TwoFactorUserFactory(is_staff=True)
    log_in_for_admin(client, staff)
    url = reverse("admin:accounts_user_reset_two_factor", args=[member.pk])
    response = client.post(url, {"reason": "no"})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=member).exists()
