"""Caveats: parsing fails closed, each caveat passes and fails, attenuation only narrows."""

import json
import math
import time

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymacaroons import Macaroon

from tests.factories import ProjectFactory
from tests.tokens.conftest import request_with
from tokens import caveats
from tokens.authentication import authenticate_upload
from tokens.exceptions import CaveatError, TokenAuthenticationError


def context(**overrides):
    values = {"now": int(time.time()), "user_id": 1, "publisher_id": None, "client_ip": "192.0.2.1"}
    return caveats.VerificationContext(**{**values, **overrides})


def check(raw) -> caveats.ProjectConstraints:
    projects = caveats.ProjectConstraints()
    caveats.deserialize(raw).verify(context(), projects)
    return projects


def attenuate(raw: str, *extra) -> str:
    macaroon = Macaroon.deserialize(raw.removeprefix("pypi-"))
    for caveat in extra:
        text = caveat if isinstance(caveat, str) else json.dumps(caveat, separators=(",", ":"))
        macaroon.add_first_party_caveat(text)
    return f"pypi-{macaroon.serialize()}"


def refusal(raw: str, **kwargs) -> str:
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request_with(raw, **kwargs))
    assert info.value.status == 403
    return info.value.message


# --- Parsing fails closed (§3F 67, 69) ---


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[99,1]", "caveat has unknown tag"),
        ('["0",1,2]', "caveat has unknown tag"),
        ("[true,1,2]", "caveat has unknown tag"),
        ("[]", "caveat must be a non-empty array"),
        ('"a string"', "caveat must be a non-empty array"),
        ('{"exp": 1}', "caveat must be a non-empty array"),
        ("[0,1", "malformed caveat"),
        (b"[0,\xff]", "malformed caveat"),
        ("[0,NaN,1]", "malformed caveat"),
        ("[0,Infinity,1]", "malformed caveat"),
        ("[" * 100_000 + "]" * 100_000, "caveat is too long"),
        ("[" * 2000 + "]" * 2000, "malformed caveat"),
        ('[0,"9999999999",1]', "caveat has invalid values for fields"),
        ("[0,9999999999.0,1]", "caveat has invalid values for fields"),
        ("[0,true,1]", "caveat has invalid values for fields"),
        ("[0,-1,1]", "caveat has invalid values for fields"),
        ("[0,99999999999999999999999,1]", "caveat has invalid values for fields"),
        ("[0,1]", "caveat has not enough values"),
        ("[0,1,2,3]", "caveat has too many values"),
        ("[1,[1]]", "caveat has invalid values for fields"),
        ('[1,"sample"]', "caveat has invalid values for fields"),
        ("[2,[1]]", "caveat has invalid values for fields"),
        ("[3,1]", "caveat has invalid values for fields"),
        ("[4,7]", "caveat has invalid values for fields"),
        ('[5,["not-an-ip"]]', "caveat has invalid values for fields"),
        ("[5,[]]", "caveat has invalid values for fields"),
    ],
)
def test_bad_caveats_fail_closed_with_a_short_reason(raw, reason):
    with pytest.raises(CaveatError) as info:
        caveats.deserialize(raw)
    assert info.value.reason == reason


def test_deeply_nested_caveat_within_the_size_cap_fails_closed():
    nested = "[0," + "[" * 1500 + "]" * 1500 + ",1]"
    with pytest.raises(CaveatError):
        caveats.deserialize(nested)


@pytest.mark.parametrize(
    "caveat",
    [
        caveats.Expiration(2_000_000_000, 1_000_000_000),
        caveats.ProjectName(("a", "b")),
        caveats.ProjectID(("1", "2")),
        caveats.RequestUser("1"),
        caveats.OIDCPublisher("5"),
        caveats.IPNetworks(("192.0.2.0/24",)),
    ],
)
def test_every_caveat_round_trips(caveat):
    assert caveats.deserialize(caveat.serialize()) == caveat


# --- Each caveat passes and fails ---


def test_expiration_passes_inside_its_window_and_fails_outside():
    now = int(time.time())
    check(f"[0,{now + 60},{now - 60}]")
    with pytest.raises(CaveatError, match="token is expired"):
        check(f"[0,{now},{now - 60}]")
    with pytest.raises(CaveatError, match="token is not valid yet"):
        check(f"[0,{now + 120},{now + 60}]")


def test_project_caveats_are_collected_then_decide_the_project():
    projects = check('[1,["alpha","beta"]]')
    caveats.deserialize('[2,["1","2"]]').verify(context(), projects)
    assert projects.is_scoped
    assert projects.admits(normalized_name="alpha", project_id=1)
    assert not projects.admits(normalized_name="alpha", project_id=3)
    assert not projects.admits(normalized_name="gamma", project_id=2)


def test_request_user_passes_for_its_user_only():
    caveats.RequestUser("1").verify(context(), caveats.ProjectConstraints())
    with pytest.raises(CaveatError, match="current user does not match"):
        caveats.RequestUser("2").verify(context(), caveats.ProjectConstraints())
    with pytest.raises(CaveatError, match="current user does not match"):
        caveats.RequestUser("1").verify(context(user_id=None), caveats.ProjectConstraints())


def test_oidc_publisher_passes_for_its_publisher_only():
    caveats.OIDCPublisher("5").verify(context(publisher_id=5), caveats.ProjectConstraints())
    with pytest.raises(CaveatError, match="trusted publisher"):
        caveats.OIDCPublisher("5").verify(context(publisher_id=6), caveats.ProjectConstraints())
    with pytest.raises(CaveatError, match="trusted publisher"):
        caveats.OIDCPublisher("5").verify(context(), caveats.ProjectConstraints())


def test_ip_networks_pass_inside_and_fail_outside():
    caveat = caveats.IPNetworks(("192.0.2.0/24",))
    caveat.verify(context(client_ip="192.0.2.99"), caveats.ProjectConstraints())
    for ip in ("192.0.3.1", "", "unknown"):
        with pytest.raises(CaveatError, match="IP address"):
            caveat.verify(context(client_ip=ip), caveats.ProjectConstraints())


# --- Attenuation by the holder (§3F 66, 67, 69) ---


def test_attenuating_to_one_project_narrows_an_unscoped_token(make_token, project, other_project):
    _token, raw = make_token()
    narrowed = attenuate(raw, [2, [str(project.pk)]])
    identity = authenticate_upload(request_with(narrowed))
    assert identity.is_attenuated
    assert identity.may_upload_to(project)
    assert not identity.may_upload_to(other_project)
    assert not identity.may_create_projects


def test_attenuation_cannot_widen_a_scoped_token(make_token, project, other_project):
    _token, raw = make_token(project_ids=[project.pk])
    widened = attenuate(
        raw, [1, [project.normalized_name, other_project.normalized_name]], [2, ["1", "2", "3"]]
    )
    identity = authenticate_upload(request_with(widened))
    assert not identity.may_upload_to(other_project)


def test_attenuation_cannot_extend_an_expiry(make_token):
    from datetime import timedelta  # noqa: PLC0415 - only this test needs it

    import time_machine  # noqa: PLC0415 - only this test needs it

    expires = timezone.now() + timedelta(days=1)
    _token, raw = make_token(expires_at=expires)
    extended = attenuate(raw, [0, 4_000_000_000, 0])
    with time_machine.travel(expires + timedelta(seconds=1)):
        assert refusal(extended) == "Invalid API Token: token is expired"


def test_attenuating_with_an_expiry_is_honoured(make_token):
    _token, raw = make_token()
    now = int(time.time())
    assert refusal(attenuate(raw, [0, now - 1, now - 100])) == "Invalid API Token: token is expired"


def test_attenuating_with_ip_networks_is_honoured(make_token):
    _token, raw = make_token()
    narrowed = attenuate(raw, [5, ["192.0.2.0/24"]])
    authenticate_upload(request_with(narrowed, ip="192.0.2.5"))
    assert "IP address" in refusal(narrowed, ip="198.51.100.5")


def test_attenuating_with_another_user_fails(make_token):
    _token, raw = make_token()
    message = refusal(attenuate(raw, [3, "999999"]))
    assert message == "Invalid API Token: current user does not match user restriction in token"


@pytest.mark.parametrize(
    "caveat",
    ["[99,1]", '[0,"9999999999",0]', "[0,1.5,0]", "[0,true,0]", "[2,[1]]", "[0,NaN,0]", "{}"],
)
def test_attenuating_with_a_bad_caveat_fails_closed(make_token, caveat):
    _token, raw = make_token()
    assert refusal(attenuate(raw, caveat)).startswith("Invalid API Token: ")


def test_attenuating_with_a_project_the_token_cannot_reach_admits_nothing(make_token, project):
    _token, raw = make_token(project_ids=[project.pk])
    identity = authenticate_upload(request_with(attenuate(raw, [2, ["99999"]])))
    assert not identity.may_upload_to(project)
    assert not identity.may_upload_to(ProjectFactory())


# --- Properties (security.md §4.2) ---


@pytest.fixture
def scoped_token(make_token, project):
    now = timezone.now()
    from datetime import timedelta  # noqa: PLC0415 - only this fixture needs it

    return make_token(
        project_ids=[project.pk],
        expires_at=now + timedelta(days=30),
        ip_networks=["192.0.2.0/24"],
    )[1]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_single_byte_change_to_a_valid_token_is_refused_with_403(scoped_token, data):
    position = data.draw(st.integers(min_value=0, max_value=len(scoped_token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ \x00é"
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != scoped_token[position]))
    mutated = scoped_token[:position] + replacement + scoped_token[position + 1 :]
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request_with(mutated, scheme="token", ip="192.0.2.1"))
    assert info.value.status == 403


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_removing_any_caveat_is_refused_with_403(scoped_token, data):
    macaroon = Macaroon.deserialize(scoped_token.removeprefix("pypi-"))
    index = data.draw(st.integers(min_value=0, max_value=len(macaroon.caveats) - 1))
    del macaroon.caveats[index]
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request_with(f"pypi-{macaroon.serialize()}", ip="192.0.2.1"))
    assert info.value.status == 403
    assert info.value.message == "Invalid API Token: signatures do not match"


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_caveat_bytes_never_raise_anything_but_caveat_error(raw):
    try:
        caveat = caveats.deserialize(raw)
    except CaveatError:
        return
    assert caveat.tag in caveats.CAVEAT_TYPES
    assert not any(isinstance(v, float) and math.isnan(v) for v in caveat.to_list())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.text(max_size=600))
@pytest.mark.django_db
def test_arbitrary_token_strings_are_refused_with_403(raw):
    with pytest.raises(TokenAuthenticationError) as info:
        authenticate_upload(request_with(f"pypi-{raw}", scheme="token"))
    assert info.value.status == 403
