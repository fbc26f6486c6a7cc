"""Leak reports (GitHub secret scanning) and self-revocation (security.md §3F 86)."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.disclosure import MAX_REPORT_BYTES
from tokens.exceptions import TokenAuthenticationError
from tokens.models import ApiToken
from tokens.services import create_publisher_token

URL = "/_/secrets/disclose-token"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"


@pytest.fixture
def signing_key(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.SECRET_SCANNING_PUBLIC_KEYS = {KEY_ID: pem.decode()}
    return key


def report(client, key, records, *, key_id=KEY_ID, body=None):
    body = body if body is not None else json.dumps(records).encode()
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    return client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=key_id,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signature,
    )


def record(raw, url="https://github.com/someone/repo/blob/main/.pypirc"):
    return {"token": raw, "type": "pypi_api_token", "url": url, "source": "content"}


def test_reported_valid_token_is_revoked_emailed_and_recorded(
    client, signing_key, make_token, owner
):
    token, raw = make_token(name="leaky")
    response = report(client, signing_key, [record(raw)])
    assert response.status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    with pytest.raises(TokenAuthenticationError):
        authenticate_upload(request_with(raw))
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK)
    assert event.user == owner
    assert event.data["token_name"] == "leaky"
    assert event.data["public_url"] == "https://github.com/someone/repo/blob/main/.pypirc"
    assert raw not in json.dumps(event.data)
    email = OutboxEmail.objects.get(template="tokens/leaked")
    assert email.recipient == owner.email
    assert "leaky" in email.subject
    assert "https://github.com/someone/repo/blob/main/.pypirc" in email.body_text
    assert "revoked" in email.body_text
    assert "trusted publishing" in email.body_text
    assert "http://testserver/account/security-history/" in email.body_text
    assert "http://testserver/tokens/" in email.body_text
    assert raw not in email.body_text


def test_leak_email_reaches_an_unverified_address(client, signing_key, make_token, owner):
    _token, raw = make_token()
    # The address is unverified since the token was made (a token needs a verified one).
    owner.emails.update(is_verified=False)
    report(client, signing_key, [record(raw)])
    assert OutboxEmail.objects.filter(template="tokens/leaked").count() == 1


def test_several_records_revoke_only_authentic_tokens(client, signing_key, make_token):
    token, raw = make_token()
    kept, _ = make_token()
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    records = [record("pypi-garbage"), record(forged), record(raw), {"no": "token"}]
    assert report(client, signing_key, records).status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert ApiToken.objects.filter(pk=kept.pk).exists()


def test_expired_token_reported_is_still_revoked(client, signing_key, make_token):
    from datetime import timedelta  # noqa: PLC0415 - only this test needs it

    import time_machine  # noqa: PLC0415 - only this test travels
    from django.utils import timezone  # noqa: PLC0415 - only this test needs it

    expires = timezone.now() + timedelta(days=1)
    token, raw = make_token(expires_at=expires)
    with time_machine.travel(expires + timedelta(days=1)):
        report(client, signing_key, [record(raw)])
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_leaked_publisher_token_is_revoked_without_an_owner(client, signing_key, project):
    token, raw = create_publisher_token(publisher_id=3, project_ids=[project.pk])
    assert report(client, signing_key, [record(raw)]).status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert not OutboxEmail.objects.exists()
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_API_TOKEN_REMOVED)
    assert event.project == project


def test_forged_signature_is_400_and_revokes_nothing(client, signing_key, make_token):
    token, raw = make_token()
    other_key = ec.generate_private_key(ec.SECP256R1())
    response = report(client, other_key, [record(raw)])
    assert response.status_code == 400
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert not AuditEvent.objects.filter(
        event_type=EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK
    ).exists()


def test_unknown_key_identifier_is_400(client, signing_key, make_token):
    token, raw = make_token()
    assert report(client, signing_key, [record(raw)], key_id="unknown").status_code == 400
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_signature_over_another_body_is_400(client, signing_key, make_token):
    token, raw = make_token()
    signature = base64.b64encode(signing_key.sign(b"[]", ec.ECDSA(hashes.SHA256()))).decode()
    response = client.post(
        URL,
        json.dumps([record(raw)]),
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=KEY_ID,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signature,
    )
    assert response.status_code == 400
    assert ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"short").decode()])
def test_garbage_signature_is_400(client, signing_key, signature):
    response = client.post(
        URL,
        b"[]",
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=KEY_ID,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signature,
    )
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"not json", b'{"token": "x"}', b'"string"'])
def test_signed_body_that_is_not_a_list_is_400(client, signing_key, body):
    assert report(client, signing_key, None, body=body).status_code == 400


def test_a_report_larger_than_any_real_one_is_refused_before_it_is_read(client, signing_key):
    body = b"[" + b" " * MAX_REPORT_BYTES + b"]"

    response = report(client, signing_key, None, body=body)

    assert response.status_code == 413
    assert response.json()["message"] == (
        f"The request body is larger than {MAX_REPORT_BYTES} bytes; send a smaller one."
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000 + b"]" * 1000, "nested more than 32 levels deep"),
        (b'[{"token": "pypi-\\u0000", "url": "x"}]', "cannot store (U+0000)"),
        (b'[{"token": "a", "token": "b"}]', "The field 'token' was sent more than once"),
    ],
)
def test_a_signed_report_the_json_parser_refuses_is_400_with_the_reason(
    client, signing_key, body, reason
):
    response = report(client, signing_key, None, body=body)

    assert response.status_code == 400
    assert reason in response.json()["message"]


def test_report_without_signature_headers_is_404(client, db, make_token):
    token, raw = make_token()
    response = client.post(URL, json.dumps([record(raw)]), content_type="application/json")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


# --- DELETE /_/tokens/current ---


@pytest.mark.parametrize("scheme", ["token", "Bearer"])
def test_token_revokes_itself(client, make_token, owner, scheme):
    token, raw = make_token(name="self")
    response = client.delete("/_/tokens/current", HTTP_AUTHORIZATION=f"{scheme} {raw}")
    assert response.status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_API_TOKEN_REMOVED)
    assert event.user == owner
    assert event.data["reason"] == "revoked with the token itself"


def test_self_revocation_with_basic_auth(client, make_token):
    _token, raw = make_token()
    request = request_with(raw)
    response = client.delete(
        "/_/tokens/current", HTTP_AUTHORIZATION=request.META["HTTP_AUTHORIZATION"]
    )
    assert response.status_code == 204


def test_self_revocation_without_a_token_is_401(client, db):
    response = client.delete("/_/tokens/current")
    assert response.status_code == 401
    assert "Invalid or non-existent authentication information" in response.json()["message"]


def test_self_revocation_with_a_forged_token_revokes_nothing(client, make_token):
    token, raw = make_token()
    forged = raw[:-3] + ("AAA" if not raw.endswith("AAA") else "BBB")
    response = client.delete("/_/tokens/current", HTTP_AUTHORIZATION=f"token {forged}")
    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_self_revocation_ignores_the_session(client, make_token, owner):
    token, _raw = make_token()
    client.force_login(owner)
    assert client.delete("/_/tokens/current").status_code == 401
    assert client.post("/_/tokens/current").status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()
