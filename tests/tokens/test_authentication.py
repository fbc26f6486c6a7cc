"""Request authentication and token verification (security.md §3F)."""

import base64
import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from pymacaroons import MACAROON_V1, MACAROON_V2, Macaroon

from auditlog.events import EventType
from auditlog.models import AuditEvent
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.exceptions import TokenAuthenticationError
from tokens.macaroons import derive_root_key
from tokens.models import ApiToken
from tokens.services import create_publisher_token, revoke_api_token


def refuse(raw, **kwargs) -> TokenAuthenticationError:
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request_with(raw, **kwargs))
    return info.value


def macaroon_of(raw: str) -> Macaroon:
    return Macaroon.deserialize(raw.removeprefix("pypi-"))


def reserialize(macaroon: Macaroon) -> str:
    return f"pypi-{macaroon.serialize()}"


def attenuate(raw: str, *caveats) -> str:
    macaroon = macaroon_of(raw)
    for caveat in caveats:
        macaroon.add_first_party_caveat(json.dumps(caveat, separators=(",", ":")))
    return reserialize(macaroon)


def forge(token: ApiToken, caveats: list, *, key: bytes | None = None, identifier=None) -> str:
    """A token for `token`'s row built from scratch, with any caveats (needs the key)."""
    macaroon = Macaroon(
        location="testserver",
        identifier=identifier or str(token.pk),
        key=key or derive_root_key(key_id=token.key_id, token_id=token.pk),
        version=MACAROON_V2,
    )
    for caveat in caveats:
        macaroon.add_first_party_caveat(caveat)
    return reserialize(macaroon)


# --- Header parsing (pypi-behaviour §1.7, §2.3 step 1) ---


@pytest.mark.parametrize("scheme", ["basic", "token", "Bearer"])
def test_each_accepted_header_scheme_authenticates(make_token, owner, scheme):
    _token, raw = make_token()
    identity = authenticate_upload(request_with(raw, scheme=scheme))
    assert identity.user == owner
    assert not identity.is_trusted_publisher


def test_token_surrounded_by_whitespace_in_basic_auth_is_accepted(make_token):
    _token, raw = make_token()
    assert authenticate_upload(request_with(f"  {raw}\n")).token_name == "token 0"


def test_no_authorization_header_is_401_pointing_to_help(db):
    error = refuse(None)
    assert error.status == 401
    assert error.message == (
        "Invalid or non-existent authentication information. "
        "See http://testserver/help/#invalid-auth for more information."
    )


def test_password_basic_auth_is_refused_with_migration_message(owner):
    encoded = base64.b64encode(f"{owner.username}:correct horse battery staple".encode()).decode()
    error = refuse(None, HTTP_AUTHORIZATION=f"Basic {encoded}")
    assert error.status == 403
    assert error.message.startswith(
        "Username/Password authentication is no longer supported. "
        "Migrate to API Tokens or Trusted Publishers instead."
    )


@pytest.mark.parametrize(
    "header",
    ["Basic !!!not-base64", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest abc"],
)
def test_unreadable_authorization_header_is_refused(db, header):
    error = refuse(None, HTTP_AUTHORIZATION=header)
    assert error.status == 403
    assert error.message.startswith("Invalid or non-existent authentication information.")


def test_token_in_query_string_or_form_is_never_accepted(make_token, rf):
    _token, raw = make_token()
    request = rf.post(f"/legacy/?token={raw}", {"password": raw, "token": raw})
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request)
    assert info.value.status == 401


# --- Format and lookup (§3F 71, 72, 74) ---


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw.replace("pypi-", "pypj-", 1),
        lambda raw: raw.replace("pypi-", "PYPI-", 1),
        lambda raw: raw.removeprefix("pypi-"),
        lambda raw: "pypi-",
        lambda raw: raw + "==",
        lambda raw: raw[:-10],
        lambda raw: raw[:30],
        lambda raw: raw.replace("A", "+"),
        lambda raw: "pypi-" + "A" * 5000,
        lambda raw: "pypi-%%%%",
    ],
)
def test_malformed_tokens_are_refused(make_token, mangle):
    _token, raw = make_token()
    error = refuse(mangle(raw), scheme="token")
    assert error.status == 403
    assert error.message.startswith("Invalid API Token: ")


def test_version_1_macaroon_is_refused_as_malformed(make_token):
    token, _raw = make_token()
    macaroon = Macaroon(
        location="testserver",
        identifier=str(token.pk),
        key=derive_root_key(key_id=token.key_id, token_id=token.pk),
        version=MACAROON_V1,
    )
    error = refuse(reserialize(macaroon))
    assert error.message == "Invalid API Token: malformed macaroon"


@pytest.mark.parametrize(
    "spell",
    [
        lambda pk: "not-a-uuid",
        lambda pk: "ÿþ",
        lambda pk: f"{{{pk}}}",
        lambda pk: str(pk).upper(),
        lambda pk: f"urn:uuid:{pk}",
        lambda pk: str(pk).replace("-", ""),
    ],
)
def test_identifier_that_is_not_a_canonical_uuid_is_refused(make_token, spell):
    """Other spellings of the token's own id are refused too: one id, one spelling."""
    token, _raw = make_token()
    error = refuse(forge(token, [], identifier=spell(token.pk)))
    assert error.message == "Invalid API Token: deleted or nonexistent macaroon"


def test_identifier_that_is_not_utf8_is_malformed(make_token):
    token, _raw = make_token()
    error = refuse(forge(token, [], identifier=b"\xff\xfe" + str(token.pk).encode()))
    assert error.message == "Invalid API Token: malformed macaroon"


def test_uuid_of_nonexistent_token_is_refused(make_token):
    token, _raw = make_token()
    error = refuse(forge(token, [], identifier=str(uuid.uuid4())))
    assert error.message == "Invalid API Token: deleted or nonexistent macaroon"


def test_other_tokens_identifier_with_this_tokens_signature_is_refused(make_token):
    _first, raw = make_token()
    second, _ = make_token()
    macaroon = macaroon_of(raw)
    macaroon.identifier = str(second.pk)
    error = refuse(reserialize(macaroon))
    assert error.message == "Invalid API Token: signatures do not match"


# --- Signature and issued caveats (§3F 64, 65, 80) ---


def test_flipped_signature_byte_is_refused_and_last_used_untouched(make_token):
    token, raw = make_token()
    macaroon = macaroon_of(raw)
    signature = bytearray.fromhex(macaroon.signature)
    signature[0] ^= 1
    macaroon.signature = signature.hex()
    error = refuse(reserialize(macaroon))
    assert error.message == "Invalid API Token: signatures do not match"
    token.refresh_from_db()
    assert token.last_used_at is None


def test_removing_an_issued_caveat_breaks_the_signature(make_token, project):
    _token, raw = make_token(project_ids=[project.pk])
    macaroon = macaroon_of(raw)
    macaroon.caveats = macaroon.caveats[:1]
    assert refuse(reserialize(macaroon)).message == "Invalid API Token: signatures do not match"


def test_issued_caveats_bind_even_a_token_minted_without_them(make_token, project, owner):
    """The stored caveats are appended at verification: a stripped token still is scoped."""
    token, _raw = make_token(project_ids=[project.pk])
    stripped = forge(token, [])
    identity = authenticate_upload(request_with(stripped))
    assert identity.may_upload_to(project)
    assert not identity.may_upload_to(ProjectFactory())
    assert not identity.may_create_projects


def test_third_party_caveat_is_refused(make_token):
    _token, raw = make_token()
    macaroon = macaroon_of(raw)
    macaroon.add_third_party_caveat("https://elsewhere.example", "a key", "an id")
    error = refuse(reserialize(macaroon))
    assert error.message == "Invalid API Token: third-party caveats are not supported"


def test_token_row_holds_nothing_that_verifies_without_the_server_secret(make_token):
    token, raw = make_token()
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in json.dumps(row, default=str)
    signature = macaroon_of(raw).signature
    for value in row.values():
        assert signature not in str(value)
    # With the database alone (no secret) an attacker can only guess keys: refused.
    guessed = forge(token, [json.dumps(c) for c in token.caveats], key=b"guess")
    assert refuse(guessed).message == "Invalid API Token: signatures do not match"
    with override_settings(TOKEN_SECRETS={"1": "another server secret"}):
        assert refuse(raw).message == "Invalid API Token: signatures do not match"


def test_token_of_a_retired_secret_is_refused(make_token):
    _token, raw = make_token()
    with override_settings(TOKEN_SECRETS={"2": "the new secret"}, TOKEN_SECRET_ID="2"):
        assert refuse(raw).message == "Invalid API Token: token was signed with a retired key"


def test_rotated_secret_keeps_older_tokens_valid_while_listed(make_token, owner):
    _token, old = make_token()
    secrets = {"1": "test-secret-key-not-for-production-use-0123456789", "2": "new"}
    with override_settings(TOKEN_SECRETS=secrets, TOKEN_SECRET_ID="2"):
        new_token, new = make_token()
        assert new_token.key_id == "2"
        assert authenticate_upload(request_with(old)).user == owner
        assert authenticate_upload(request_with(new)).user == owner


# --- Revocation and users (§3F 75, 76) ---


def test_revoked_token_fails_on_the_very_next_request(make_token, owner):
    token, raw = make_token()
    authenticate_upload(request_with(raw))
    revoke_api_token(token=token, actor=owner, reason="no longer needed")
    assert refuse(raw).message == "Invalid API Token: deleted or nonexistent macaroon"


def test_token_of_disabled_user_is_refused(make_token, owner):
    _token, raw = make_token()
    owner.is_active = False
    owner.save()
    error = refuse(raw)
    assert error.message == "Invalid API Token: the account that owns this token is disabled"


def test_tokens_of_deleted_user_are_deleted_with_them(make_token, owner):
    _token, raw = make_token()
    owner.delete()
    assert not ApiToken.objects.exists()
    assert refuse(raw).message == "Invalid API Token: deleted or nonexistent macaroon"


# --- Scope (§3F 77, 78) ---


def test_project_scoped_token_is_refused_for_another_project(make_token, project, other_project):
    _token, raw = make_token(project_ids=[project.pk])
    identity = authenticate_upload(request_with(raw))
    assert identity.may_upload_to(project)
    assert not identity.may_upload_to(other_project)
    assert identity.scope_error(other_project) == (
        f"Invalid API Token: project-scoped token is not valid for project: '{other_project.name}'"
    )


def test_token_scoped_to_several_projects_admits_each(make_token, project, other_project):
    _token, raw = make_token(project_ids=[project.pk, other_project.pk])
    identity = authenticate_upload(request_with(raw))
    assert identity.may_upload_to(project)
    assert identity.may_upload_to(other_project)
    assert not identity.may_upload_to(ProjectFactory())


def test_project_scoped_token_cannot_create_projects(make_token, project):
    _token, raw = make_token(project_ids=[project.pk])
    identity = authenticate_upload(request_with(raw))
    assert not identity.may_create_projects
    assert identity.scope_error(None) == (
        f"Invalid API Token: This token is scoped to {project.normalized_name}; it cannot create "
        "new projects. Use an account-wide token for the first upload, or add a pending publisher"
    )


def test_unscoped_user_token_may_create_projects(make_token, project):
    _token, raw = make_token()
    identity = authenticate_upload(request_with(raw))
    assert identity.may_create_projects
    assert identity.may_upload_to(project)


def test_renamed_scope_by_id_still_requires_the_name(make_token, project):
    """Both ProjectName and ProjectID are issued: a new project taking the id never matches."""
    _token, raw = make_token(project_ids=[project.pk])
    identity = authenticate_upload(request_with(raw))
    project.normalized_name = "something-else"
    assert not identity.may_upload_to(project)


# --- Expiry (§3F 79) ---


def test_token_works_until_it_expires(make_token):
    expires = timezone.now() + timedelta(days=30)
    _token, raw = make_token(expires_at=expires)
    authenticate_upload(request_with(raw))
    with time_machine.travel(expires - timedelta(seconds=1)):
        authenticate_upload(request_with(raw))
    with time_machine.travel(expires):
        assert refuse(raw).message == "Invalid API Token: token is expired"


def test_token_is_refused_before_not_before(make_token):
    start = timezone.now() + timedelta(days=1)
    _token, raw = make_token(expires_at=start + timedelta(days=1), not_before=start)
    assert refuse(raw).message == "Invalid API Token: token is not valid yet"
    with time_machine.travel(start):
        authenticate_upload(request_with(raw))


# --- IP networks (§3F 82) ---


def test_ip_bound_token_works_inside_and_fails_outside_its_networks(make_token):
    _token, raw = make_token(ip_networks=["192.0.2.0/24", "2001:db8::/32"])
    authenticate_upload(request_with(raw, ip="192.0.2.200"))
    authenticate_upload(request_with(raw, ip="2001:db8::1"))
    for address in ("198.51.100.1", "2001:db9::1", "192.0.3.1"):
        assert refuse(raw, ip=address).message == (
            "Invalid API Token: token is not valid from the IP address this server saw "
            f"({address}); use it from an address in its IP ranges"
        )


# --- Trusted publishers ---


def test_publisher_token_uploads_only_to_its_projects(db, project, other_project):
    _token, raw = create_publisher_token(publisher_id=7, project_ids=[project.pk])
    identity = authenticate_upload(request_with(raw))
    assert identity.is_trusted_publisher
    assert identity.user is None
    assert identity.publisher_id == 7
    assert identity.may_upload_to(project)
    assert not identity.may_upload_to(other_project)
    assert not identity.may_create_projects
    assert "not valid for project" in identity.scope_error(other_project)


def test_publisher_token_expires_after_its_lifetime(db, project):
    _token, raw = create_publisher_token(publisher_id=7, project_ids=[project.pk])
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=1)):
        assert refuse(raw).message == "Invalid API Token: token is expired"


# --- Bookkeeping ---


def test_successful_use_records_when_and_from_where(make_token):
    token, raw = make_token()
    authenticate_upload(request_with(raw, ip="203.0.113.9"))
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_ip == "203.0.113.9"


def test_last_used_is_written_at_most_once_a_minute(make_token):
    token, raw = make_token()
    authenticate_upload(request_with(raw, ip="203.0.113.9"))
    authenticate_upload(request_with(raw, ip="203.0.113.10"))
    token.refresh_from_db()
    assert token.last_used_ip == "203.0.113.9"
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        authenticate_upload(request_with(raw, ip="203.0.113.10"))
    token.refresh_from_db()
    assert token.last_used_ip == "203.0.113.10"


def test_refused_use_of_authentic_token_is_recorded_once_per_hour(make_token, owner):
    _token, raw = make_token(ip_networks=["192.0.2.0/24"])
    for _ in range(5):
        refuse(raw, ip="198.51.100.1")
    events = AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_REFUSED)
    assert events.count() == 1
    event = events.get()
    assert event.user == owner
    assert event.data["reason"] == (
        "token is not valid from the IP address this server saw (198.51.100.1); "
        "use it from an address in its IP ranges"
    )
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        refuse(raw, ip="198.51.100.1")
    assert events.count() == 2


def test_forged_or_unknown_tokens_record_nothing(make_token):
    token, raw = make_token()
    refuse(forge(token, [], key=b"guess"))
    refuse(forge(token, [], identifier=str(uuid.uuid4())))
    refuse(raw[:-5])
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_API_TOKEN_REFUSED).exists()


def test_authentication_is_a_single_query(make_token, django_assert_max_num_queries):
    _token, raw = make_token()
    authenticate_upload(request_with(raw))
    with django_assert_max_num_queries(1):
        authenticate_upload(request_with(raw))


def test_other_users_token_identity_is_its_owner(make_token):
    someone = TwoFactorUserFactory()
    _token, raw = make_token(user=someone, name="theirs")
    assert authenticate_upload(request_with(raw)).user == someone


def test_oversized_authorization_header_is_refused_before_decoding(db):
    header = "Basic " + base64.b64encode(b"__token__:pypi-" + b"A" * 20_000).decode()
    error = refuse(None, HTTP_AUTHORIZATION=header)
    assert error.status == 403
    assert error.message == "Invalid API Token: malformed macaroon"
