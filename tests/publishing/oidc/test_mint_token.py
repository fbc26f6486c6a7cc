"""POST /_/oidc/mint-token: security.md §3G, row by row, plus the happy path and replay."""

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import OperationalError

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from publishing.models import OIDCIssuer, Provider, UsedJwtId
from tests.publishing.oidc.conftest import (
    AUDIENCE,
    GITHUB,
    GITHUB_CONFIG,
    KID,
    add_publisher,
    error_code,
    error_description,
    github_claims,
    gitlab_claims,
    google_claims,
)
from tokens.authentication import authenticate_upload
from tokens.exceptions import TokenAuthenticationError
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def _upload_identity(rf, raw: str):
    request = rf.post(
        "/legacy/",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"__token__:{raw}".encode()).decode(),
    )
    return authenticate_upload(request)


# The happy path -------------------------------------------------------------------------


def test_valid_github_token_mints_a_short_lived_upload_token(
    github, github_publisher, project, mint, rf
):
    before = int(time.time())
    status, body = mint(github.sign(github_claims()))
    assert status == 200, body
    assert body["success"] is True
    assert body["token"].startswith("pypi-")
    assert before + 900 - 5 <= body["expires"] <= int(time.time()) + 900
    token = ApiToken.objects.get()
    assert token.publisher_id == github_publisher.pk
    assert list(token.projects.all()) == [project]
    identity = _upload_identity(rf, body["token"])
    assert identity.is_trusted_publisher
    assert identity.publisher_id == github_publisher.pk
    assert identity.may_upload_to(project)
    assert not identity.may_create_projects
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED)
    assert event.project == project
    assert event.data["publisher_id"] == github_publisher.pk
    assert event.data["ref"] == "refs/tags/v1.0.0"


def test_legacy_github_mint_path_also_mints(github, github_publisher, mint):
    status, body = mint(github.sign(github_claims()), path="/_/oidc/github/mint-token")
    assert status == 200, body


def test_replayed_jwt_is_refused_as_reused(github, github_publisher, mint):
    token = github.sign(github_claims())
    assert mint(token)[0] == 200
    status, body = mint(token)
    assert status == 422
    assert error_code(body) == "invalid-reuse-token"
    assert ApiToken.objects.count() == 1


def test_used_jwt_id_is_kept_past_expiry_plus_leeway(github, github_publisher, mint):
    claims = github_claims()
    assert mint(github.sign(claims))[0] == 200
    used = UsedJwtId.objects.get()
    assert used.jti == claims["jti"]
    assert used.expires_at.timestamp() > claims["exp"] + 30


def test_jti_store_unavailable_fails_closed(github, github_publisher, mint, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(UsedJwtId.objects, "create", broken)
    status, _body = mint(github.sign(github_claims()))
    assert status == 503
    assert not ApiToken.objects.exists()


# 87-92: signature and header attacks -----------------------------------------------------


def test_alg_none_is_refused(github, github_publisher, mint):
    token = jwt.encode(github_claims(), None, algorithm="none", headers={"kid": github.kid})
    status, body = mint(token)
    assert (status, error_code(body)) == (422, "invalid-token")


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    # PyJWT refuses to HMAC-sign with a PEM key, as an attacker's tool would not: build it.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    import hashlib  # noqa: PLC0415 - only this forgery needs it
    import hmac  # noqa: PLC0415 - only this forgery needs it

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_hs256_signed_with_the_issuer_public_key_is_refused(github, github_publisher, mint, form):
    public = github.key.public_key()
    if form == "pem":
        secret = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        secret = json.dumps(github.jwk(github.key, github.kid)).encode()
    status, body = mint(_hs256(github_claims(), secret, github.kid))
    assert (status, error_code(body)) == (422, "invalid-token")
    assert not ApiToken.objects.exists()


def test_token_signed_by_another_key_with_the_issuer_kid_is_refused(github, github_publisher, mint):
    attacker = rsa.generate_private_key(65537, 2048)
    status, body = mint(github.sign(github_claims(), key=attacker))
    assert (status, error_code(body)) == (422, "invalid-token")


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk", "x5c"])
def test_key_location_headers_are_ignored_and_never_fetched(
    github, github_publisher, mint, web, header
):
    attacker = rsa.generate_private_key(65537, 2048)
    attacker_jwk = github.jwk(attacker, github.kid)
    value = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": attacker_jwk,
        "x5c": ["MIIBattacker"],
    }[header]
    forged = github.sign(github_claims(), key=attacker, headers={header: value})
    status, body = mint(forged)
    assert (status, error_code(body)) == (422, "invalid-token")
    assert not any("attacker" in url for url in web.calls)
    # The same header on an honestly signed token changes nothing: it is not read.
    status, body = mint(github.sign(github_claims(), headers={header: value}))
    assert status == 200, body
    assert not any("attacker" in url for url in web.calls)


def test_unknown_critical_header_is_refused(github, github_publisher, mint):
    token = github.sign(github_claims(), headers={"crit": ["x-unknown"], "x-unknown": 1})
    status, body = mint(token)
    # PyJWT refuses it already when reading the issuer, before any key is looked up.
    assert (status, error_code(body)) == (422, "invalid-payload")
    assert error_description(body) == "malformed JWT"
    assert not ApiToken.objects.exists()


def test_token_without_kid_is_refused(github, github_publisher, mint):
    token = jwt.encode(github_claims(), github.key, algorithm="RS256")
    status, body = mint(token)
    assert (status, error_code(body)) == (422, "invalid-token")


def test_es256_token_is_refused_for_an_rs256_issuer(github, github_publisher, mint, ec_key):
    github.extra_keys.append((ec_key, "ec-key"))
    github.publish()
    token = jwt.encode(github_claims(), ec_key, algorithm="ES256", headers={"kid": "ec-key"})
    status, body = mint(token)
    assert (status, error_code(body)) == (422, "invalid-token")


# 93-95: times and audience ---------------------------------------------------------------


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


@pytest.mark.parametrize(("seconds_past_exp", "status"), [(31, 422), (29, 200), (86_400, 422)])
def test_expiry_has_thirty_seconds_of_leeway_and_the_refusal_names_both_clocks(
    github, github_publisher, mint, seconds_past_exp, status
):
    claims = github_claims()
    token = github.sign(claims)
    now = claims["exp"] + seconds_past_exp
    with time_machine.travel(now, tick=False):
        got, body = mint(token)
    assert got == status, body
    if status == 422:
        assert error_code(body) == "invalid-token"
        assert error_description(body) == (
            f"token expired at {_utc(claims['exp'])} (server time {_utc(now)}; check the CI clock)"
        )


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_from_the_future_is_refused_with_both_clocks(github, github_publisher, mint, claim):
    now = int(time.time())
    later = now + 120
    with time_machine.travel(now, tick=False):
        status, body = mint(github.sign(github_claims(**{claim: later})))
    assert (status, error_code(body)) == (422, "invalid-token")
    assert error_description(body) == (
        f"token is not valid before {_utc(later)} (server time {_utc(now)}; check the CI clock)"
    )


EXPECTS = f"this index expects '{AUDIENCE}' (GET /_/oidc/audience)"
EXPECTS_ONE = f"this index expects the single audience '{AUDIENCE}' (GET /_/oidc/audience)"


@pytest.mark.parametrize(
    ("audience", "said"),
    [
        ("pypi", f"audience is 'pypi' but {EXPECTS}"),
        ("pypi-other", f"audience is 'pypi-other' but {EXPECTS}"),
        (None, f"token has no audience ('aud' claim) but {EXPECTS}"),
        ([AUDIENCE, "other"], f"audience is a list ['{AUDIENCE}', 'other'] but {EXPECTS_ONE}"),
        ([AUDIENCE], f"audience is a list ['{AUDIENCE}'] but {EXPECTS_ONE}"),
    ],
    ids=str,
)
def test_only_our_single_audience_is_accepted_and_the_refusal_names_both(
    github, github_publisher, mint, audience, said
):
    status, body = mint(github.sign(github_claims(aud=audience)))
    assert (status, error_code(body)) == (422, "invalid-token")
    assert error_description(body) == said


def test_a_bad_signature_says_nothing_about_the_claims(github, github_publisher, mint):
    other = rsa.generate_private_key(65537, 2048)
    claims = github_claims(aud="pypi", exp=int(time.time()) - 3600)
    status, body = mint(github.sign(claims, key=other))
    assert (status, error_code(body)) == (422, "invalid-token")
    assert error_description(body) == "malformed or invalid token"


# 96: issuer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example",
        GITHUB + "/",
        GITHUB.replace("https://", "http://"),
        GITHUB.upper(),
        "https://github.acme.internal/_services/token",
        "https://gitlab.acme.internal",
    ],
)
def test_unknown_issuer_is_refused_without_fetching_keys(github, github_publisher, mint, web, iss):
    status, body = mint(github.sign(github_claims(iss=iss)))
    assert (status, error_code(body)) == (422, "invalid-payload")
    assert error_description(body) == f"unknown trusted publishing issuer {iss!r}"
    assert web.calls == []


@pytest.mark.parametrize("body", [b"not json", b'{"token": 5}', b'{"token": "a", "x": 1}', b"[]"])
def test_malformed_request_body_is_refused(mint, body):
    status, answer = mint(None, raw=body)
    assert (status, error_code(answer)) == (422, "invalid-payload")


def test_oversized_request_body_is_refused(mint):
    status, answer = mint("a" * (1024 * 1024))
    assert (status, error_code(answer)) == (422, "invalid-payload")
    assert "larger than" in error_description(answer)


def test_malformed_jwt_is_refused(mint):
    status, answer = mint("not.a.jwt")
    assert (status, error_code(answer)) == (422, "invalid-payload")
    assert error_description(answer) == "malformed JWT"


# 97: required claims ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ({"repository_owner_id": None}, "repository_owner_id"),
        ({"job_workflow_ref": None}, "job_workflow_ref"),
        ({"ref": None, "sha": None}, "'ref' or 'sha'"),
    ],
)
def test_missing_required_claim_is_named(github, github_publisher, mint, missing, named):
    status, body = mint(github.sign(github_claims(**missing)))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "Missing claim" in error_description(body)
    assert named in error_description(body)


@pytest.mark.parametrize("jti", [None, ""], ids=["absent", "empty"])
def test_a_token_without_jti_is_a_token_problem(github, github_publisher, mint, jti):
    claims = github_claims()
    claims.pop("jti") if jti is None else claims.update(jti=jti)
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-token")
    assert error_description(body) == (
        "token has no 'jti' claim, which this issuer's tokens must carry (it stops a token being "
        "used twice); send the token exactly as the CI provider issued it"
    )


# 99-103: GitHub publisher matching ------------------------------------------------------


def test_other_repository_of_the_same_owner_is_refused(github, github_publisher, mint):
    claims = github_claims(
        repository="acme/other",
        job_workflow_ref="acme/other/.github/workflows/release.yml@refs/tags/v1.0.0",
    )
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "acme/other" in error_description(body)


def test_recreated_owner_with_a_new_id_is_refused(github, github_publisher, mint):
    status, body = mint(github.sign(github_claims(repository_owner_id="9999")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "'repository_owner_id' is '9999'" in error_description(body)
    assert "'4242'" in error_description(body)


def test_other_workflow_is_refused_with_the_expected_workflow(github, github_publisher, mint):
    claims = github_claims(job_workflow_ref="acme/widget/.github/workflows/ci.yml@refs/tags/v1.0.0")
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    description = error_description(body)
    assert "job_workflow_ref" in description
    assert "acme/widget/.github/workflows/release.yml" in description


def test_reusable_workflow_from_another_repository_is_refused(github, github_publisher, mint):
    claims = github_claims(
        job_workflow_ref="evil/tools/.github/workflows/release.yml@refs/heads/main"
    )
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")


def test_workflow_ref_that_is_neither_ref_nor_sha_is_refused(github, github_publisher, mint):
    claims = github_claims(
        job_workflow_ref="acme/widget/.github/workflows/release.yml@refs/heads/evil"
    )
    status, body = mint(github.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "neither" in error_description(body)


def test_workflow_pinned_by_sha_is_accepted(github, github_publisher, mint):
    claims = github_claims(job_workflow_ref="acme/widget/.github/workflows/release.yml@" + "0" * 40)
    assert mint(github.sign(claims))[0] == 200


@pytest.mark.parametrize(
    ("token_environment", "status"),
    [("staging", 422), (None, 422), ("PyPI", 200), ("pypi", 200)],
)
def test_github_environment_is_matched_case_insensitively(
    github, project, mint, token_environment, status
):
    add_publisher(project, **{**GITHUB_CONFIG, "environment": "pypi"})
    got, body = mint(github.sign(github_claims(environment=token_environment)))
    assert got == status, body
    if status == 422:
        assert error_code(body) == "invalid-publisher"
        assert "'pypi'" in error_description(body)


def test_publisher_without_environment_accepts_one_and_emails_owners(
    github, github_publisher, owner, mint
):
    status, body = mint(github.sign(github_claims(environment="release")))
    assert status == 200, body
    email = OutboxEmail.objects.get(template="publishing/environment_ignored")
    assert email.recipient == owner.email
    assert "release" in email.body_text
    # Once a day per publisher and environment, not on every publish.
    assert mint(github.sign(github_claims(environment="release")))[0] == 200
    assert OutboxEmail.objects.filter(template="publishing/environment_ignored").count() == 1


def test_token_names_the_most_specific_publisher(github, project, mint):
    other = add_publisher(
        __import__("tests.factories", fromlist=["ProjectFactory"]).ProjectFactory(name="other"),
        **GITHUB_CONFIG,
    )
    specific = add_publisher(project, **{**GITHUB_CONFIG, "environment": "release"})
    status, body = mint(github.sign(github_claims(environment="release")))
    assert status == 200, body
    assert ApiToken.objects.get().publisher_id == specific.pk != other.pk


def test_pull_request_target_is_refused(github, github_publisher, mint):
    status, body = mint(github.sign(github_claims(event_name="pull_request_target")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "'pull_request_target' is not supported" in error_description(body)


def test_refusal_does_not_reveal_other_repositories_publishers(github, project, mint):
    add_publisher(
        project,
        **{**GITHUB_CONFIG, "repository_name": "secret-repo", "workflow_filename": "hidden.yml"},
    )
    status, body = mint(github.sign(github_claims()))
    assert status == 422
    assert "hidden.yml" not in error_description(body)
    assert "secret-repo" not in error_description(body)
    assert "widget" not in error_description(body).replace("acme/widget", "")


# 105-106: GitLab ------------------------------------------------------------------------

GITLAB_CONFIG = {
    "provider": Provider.GITLAB,
    "namespace": "acme",
    "project": "widget",
    "workflow_filepath": ".gitlab-ci.yml",
    "environment": "pypi",
}


def test_valid_gitlab_token_mints(gitlab, project, mint):
    add_publisher(project, **GITLAB_CONFIG)
    status, body = mint(gitlab.sign(gitlab_claims()))
    assert status == 200, body


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "project_path:other/proj:ref_type:tag:ref:v1"},
        {"ci_config_ref_uri": "gitlab.com/other/proj//.gitlab-ci.yml@refs/tags/v1.0.0"},
        {"ref_path": None},
        {"sha": None},
        {"environment": "PyPI"},
    ],
    ids=["sub", "ci_config_ref_uri", "ref_path", "sha", "environment-case"],
)
def test_gitlab_claims_that_differ_are_refused(gitlab, project, mint, overrides):
    add_publisher(project, **GITLAB_CONFIG)
    status, body = mint(gitlab.sign(gitlab_claims(**overrides)))
    assert (status, error_code(body)) == (422, "invalid-publisher")


def test_self_managed_gitlab_cannot_use_gitlab_com_publishers(web, project, mint):
    from tests.publishing.oidc.conftest import Issuer  # noqa: PLC0415 - the fake issuer class

    evil = Issuer("https://gitlab.evil.example", web)
    add_publisher(project, **GITLAB_CONFIG)
    claims = gitlab_claims(
        iss=evil.url,
        ci_config_ref_uri="gitlab.evil.example/acme/widget//.gitlab-ci.yml@refs/tags/v1.0.0",
    )
    status, body = mint(evil.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-payload")
    # Even once an admin registers that instance, it only matches its own publishers.
    OIDCIssuer.objects.create(name="evil", issuer_url=evil.url, kind=OIDCIssuer.Kind.GITLAB)
    status, body = mint(evil.sign(gitlab_claims(**{**claims, "jti": "fresh"})))
    assert (status, error_code(body)) == (422, "invalid-publisher")


def test_registered_self_managed_gitlab_mints_for_its_publishers(web, project, mint):
    from tests.publishing.oidc.conftest import Issuer  # noqa: PLC0415 - the fake issuer class

    instance = Issuer("https://gitlab.acme.internal", web)
    registered = OIDCIssuer.objects.create(
        name="acme", issuer_url=instance.url, kind=OIDCIssuer.Kind.GITLAB
    )
    add_publisher(project, **{**GITLAB_CONFIG, "issuer": registered})
    claims = gitlab_claims(
        iss=instance.url,
        ci_config_ref_uri="gitlab.acme.internal/acme/widget//.gitlab-ci.yml@refs/tags/v1.0.0",
    )
    status, body = mint(instance.sign(claims))
    assert status == 200, body


# 107: Google --------------------------------------------------------------------------------


GOOGLE_CONFIG = {"provider": Provider.GOOGLE, "email": "publisher@acme.iam.gserviceaccount.com"}


def test_valid_google_token_without_jti_mints(google, project, mint):
    add_publisher(project, **GOOGLE_CONFIG)
    status, body = mint(google.sign(google_claims()))
    assert status == 200, body


@pytest.mark.parametrize("verified", [False, None, "true"])
def test_google_email_must_be_verified(google, project, mint, verified):
    add_publisher(project, **GOOGLE_CONFIG)
    status, body = mint(google.sign(google_claims(email_verified=verified)))
    assert (status, error_code(body)) == (422, "invalid-publisher")


def test_google_pinned_subject_must_match(google, project, mint):
    add_publisher(project, **{**GOOGLE_CONFIG, "subject": "999"})
    status, body = mint(google.sign(google_claims(sub="111222333")))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "'sub'" in error_description(body)


# Custom issuers ---------------------------------------------------------------------------


@pytest.fixture
def forgejo(web):
    """A custom issuer (a Forgejo instance) whose signing key is pinned, not fetched."""
    from tests.publishing.oidc.conftest import Issuer  # noqa: PLC0415 - the fake issuer class

    return Issuer("https://code.acme.example", web)


@pytest.fixture
def forgejo_issuer(forgejo):
    """The custom issuer registered by an admin: pinned JWKS and its own audience."""
    return OIDCIssuer.objects.create(
        name="forgejo",
        issuer_url=forgejo.url,
        key_source=OIDCIssuer.KeySource.PINNED,
        pinned_jwks={"keys": [forgejo.jwk(forgejo.key, forgejo.kid)]},
        audience="forgejo-aud",
    )


def test_custom_issuer_with_pinned_keys_and_claim_rules(
    web, forgejo, forgejo_issuer, project, mint
):
    add_publisher(
        project,
        provider=Provider.CUSTOM,
        issuer=forgejo_issuer,
        claim_rules=[
            {"claim": "repository", "op": "equals", "value": "acme/tool"},
            {"claim": "ref", "op": "startswith", "value": "refs/tags/"},
        ],
    )
    now = int(time.time())
    base = {"iss": forgejo.url, "aud": "forgejo-aud", "iat": now, "exp": now + 300}
    ok = {**base, "jti": "1", "repository": "acme/tool", "ref": "refs/tags/v1"}
    status, body = mint(forgejo.sign(ok))
    assert status == 200, body
    assert web.calls == []  # pinned keys: nothing fetched
    branch = {**ok, "jti": "2", "ref": "refs/heads/main"}
    status, body = mint(forgejo.sign(branch))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "'ref' is 'refs/heads/main'" in error_description(body)
    assert "start with 'refs/tags/'" in error_description(body)
    other = {**ok, "jti": "3", "repository": "evil/tool"}
    status, body = mint(forgejo.sign(other))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    assert "acme/tool" not in error_description(body)


def test_custom_issuer_refusal_does_not_reveal_values_of_a_publisher_matched_on_a_shared_rule(
    forgejo, forgejo_issuer, project, mint
):
    """A candidate sharing only a common exact rule (a branch) shows no other expected value."""
    add_publisher(
        project,
        provider=Provider.CUSTOM,
        issuer=forgejo_issuer,
        claim_rules=[
            {"claim": "ref", "op": "equals", "value": "refs/heads/main"},
            {"claim": "repository", "op": "equals", "value": "victim/secret-tool"},
            {"claim": "workflow", "op": "startswith", "value": "victim-release"},
        ],
    )
    now = int(time.time())
    claims = {
        "iss": forgejo.url,
        "aud": "forgejo-aud",
        "iat": now,
        "exp": now + 300,
        "jti": "1",
        "ref": "refs/heads/main",
        "repository": "attacker/tool",
        "workflow": "mine",
    }
    status, body = mint(forgejo.sign(claims))
    assert (status, error_code(body)) == (422, "invalid-publisher")
    description = error_description(body)
    assert "victim" not in description
    assert "claim 'repository' is 'attacker/tool'" in description


# 109: scope of the minted token ---------------------------------------------------------


def test_minted_token_does_not_admit_an_unrelated_project(github, github_publisher, mint, rf):
    from tests.factories import ProjectFactory  # noqa: PLC0415 - one extra project

    unrelated = ProjectFactory(name="unrelated")
    _, body = mint(github.sign(github_claims()))
    assert not _upload_identity(rf, body["token"]).may_upload_to(unrelated)


def test_removing_the_publisher_revokes_its_minted_tokens(
    github, github_publisher, owner, mint, rf
):
    from publishing.services import remove_publisher_from_project  # noqa: PLC0415

    _, body = mint(github.sign(github_claims()))
    project = github_publisher.projects.get()
    remove_publisher_from_project(project=project, publisher=github_publisher, actor=owner)
    with pytest.raises(TokenAuthenticationError):
        _upload_identity(rf, body["token"])


# 112: rate limit ------------------------------------------------------------------------


def test_mint_token_is_rate_limited_per_ip(github, github_publisher, mint, settings):
    settings.OIDC_MINT_RATE_LIMIT = "3/m"
    for _ in range(3):
        assert mint("not.a.jwt")[0] == 422
    status, body = mint(github.sign(github_claims()))
    assert status == 429
    assert error_code(body) == "rate-limited"


# 113: JWKS cache ------------------------------------------------------------------------


def test_cached_keys_verify_while_the_issuer_is_down(github, github_publisher, mint, web):
    assert mint(github.sign(github_claims()))[0] == 200
    web.down = True
    with time_machine.travel(time.time() + 120):
        # Timestamps move with the clock; the cooldown has passed, the key is still cached.
        status, body = mint(github.sign(github_claims()))
    assert status == 200, body


def test_key_fetches_share_one_five_second_deadline(github, github_publisher, mint, web):
    assert mint(github.sign(github_claims()))[0] == 200
    assert web.calls == [
        f"{GITHUB}/.well-known/openid-configuration",
        f"{GITHUB}/jwks",
    ]
    # Each request gets what is left of the five seconds, never more.
    first, second = web.timeouts
    assert 0 < second <= first <= 5.0


def test_unknown_kid_while_the_issuer_is_down_asks_to_retry(github, github_publisher, mint, web):
    web.down = True
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (503, "service-unavailable")
    # Within the refresh interval the issuer is not asked again, and the answer is the same.
    calls = len(web.calls)
    assert mint(github.sign(github_claims()))[0] == 503
    assert len(web.calls) == calls


def test_unknown_kid_refreshes_keys_at_most_once_a_minute(github, github_publisher, mint, web):
    assert mint(github.sign(github_claims()))[0] == 200
    fetched = len(web.calls)
    stranger = github.sign(github_claims(), headers={"kid": "unknown"})
    assert mint(stranger)[0] == 422
    assert mint(github.sign(github_claims(), headers={"kid": "unknown"}))[0] == 422
    assert len(web.calls) == fetched  # within a minute of the first fetch: no refetch
    # A rotated key is picked up once the cooldown has passed.
    rotated = rsa.generate_private_key(65537, 2048)
    github.extra_keys.append((rotated, "rotated"))
    github.publish()
    with time_machine.travel(time.time() + 61):
        token = jwt.encode(github_claims(), rotated, algorithm="RS256", headers={"kid": "rotated"})
        status, body = mint(token)
    assert status == 200, body


def test_cached_keys_are_not_fetched_again_within_the_max_age(
    github, github_publisher, mint, web, settings
):
    settings.OIDC_JWKS_MAX_AGE = 3600
    assert mint(github.sign(github_claims()))[0] == 200
    fetched = len(web.calls)
    with time_machine.travel(time.time() + 3500):
        status, body = mint(github.sign(github_claims()))
    assert status == 200, body
    assert len(web.calls) == fetched


def test_key_the_issuer_removed_stops_verifying_after_the_max_age(
    github, github_publisher, mint, web, settings
):
    settings.OIDC_JWKS_MAX_AGE = 3600
    assert mint(github.sign(github_claims()))[0] == 200
    # The issuer rotates: the old key is gone from its JWKS, a new one replaces it.
    old_key = github.key
    github.key = rsa.generate_private_key(65537, 2048)
    github.kid = "rotated"
    github.publish()
    with time_machine.travel(time.time() + 3601):
        old = jwt.encode(github_claims(), old_key, algorithm="RS256", headers={"kid": KID})
        status, body = mint(old)
        assert (status, error_code(body)) == (422, "invalid-token")
        assert mint(github.sign(github_claims()))[0] == 200


def test_stale_keys_are_served_only_while_the_refresh_fails(
    github, github_publisher, mint, web, settings
):
    settings.OIDC_JWKS_MAX_AGE = 3600
    assert mint(github.sign(github_claims()))[0] == 200
    fetched = len(web.calls)
    web.down = True
    with time_machine.travel(time.time() + 7200):
        status, body = mint(github.sign(github_claims()))
    assert status == 200, body
    assert len(web.calls) == fetched + 1  # a refresh was tried, failed, and the old keys served


def test_discovery_naming_another_issuer_is_not_trusted(github, github_publisher, mint, web):
    web.routes[f"{GITHUB}/.well-known/openid-configuration"]["issuer"] = "https://evil.example"
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "invalid-token")


# Switches ---------------------------------------------------------------------------------


def test_disabled_trusted_publishing_refuses_minting(github, github_publisher, mint, settings):
    settings.TRUSTED_PUBLISHING_ENABLED = False
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "not-enabled")


def test_admin_flag_disables_one_provider(github, gitlab, github_publisher, project, mint):
    from publishing.models import AdminFlag  # noqa: PLC0415

    AdminFlag.objects.create(id="disallow-github-oidc", is_enabled=True)
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "not-enabled")
    add_publisher(project, **GITLAB_CONFIG)
    assert mint(gitlab.sign(gitlab_claims()))[0] == 200


def test_expired_jwt_ids_are_deleted_by_the_periodic_task(github, github_publisher, mint):
    from publishing.tasks import delete_expired_jwt_ids  # noqa: PLC0415

    assert mint(github.sign(github_claims()))[0] == 200
    assert delete_expired_jwt_ids() == 0
    with time_machine.travel(time.time() + timedelta(hours=1).total_seconds()):
        assert delete_expired_jwt_ids.delay().get() == 1
    assert not UsedJwtId.objects.exists()


def test_custom_issuer_allowlisting_es256_accepts_only_es256(web, project, mint, ec_key):
    from tests.publishing.oidc.conftest import Issuer  # noqa: PLC0415 - the fake issuer class

    buildkite = Issuer("https://agent.buildkite.example", web, key=ec_key, kid="ec-1")
    registered = OIDCIssuer.objects.create(
        name="buildkite", issuer_url=buildkite.url, algorithms=["ES256"]
    )
    add_publisher(
        project,
        provider=Provider.CUSTOM,
        issuer=registered,
        claim_rules=[{"claim": "pipeline_slug", "op": "equals", "value": "widget-release"}],
    )
    now = int(time.time())
    claims = {
        "iss": buildkite.url,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": "bk-1",
        "pipeline_slug": "widget-release",
    }
    status, body = mint(buildkite.sign(claims, algorithm="ES256"))
    assert status == 200, body
    rsa_signed = jwt.encode(
        {**claims, "jti": "bk-2"},
        rsa.generate_private_key(65537, 2048),
        algorithm="RS256",
        headers={"kid": "ec-1"},
    )
    status, body = mint(rsa_signed)
    assert (status, error_code(body)) == (422, "invalid-token")


def test_global_admin_flag_refuses_minting(github, github_publisher, mint):
    from publishing.models import AdminFlag  # noqa: PLC0415

    AdminFlag.objects.create(id=AdminFlag.DISALLOW_OIDC, is_enabled=True)
    status, body = mint(github.sign(github_claims()))
    assert (status, error_code(body)) == (422, "not-enabled")
    assert error_description(body) == "trusted publishing functionality not enabled"
    assert not ApiToken.objects.exists()
