"""Matching verified claims to a trusted publisher, per provider.

Each provider names the claims it needs, finds the candidate publishers that share the token's
proven identity (the same repository, GitLab project, service account or matching rule), and
compares the rest. When no candidate matches, the refusal names the claim that differed and the
value the closest candidate expects. Candidates are only publishers for the identity the token
proves, so no other project's configuration is revealed.
"""

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet

from publishing.models import Provider, RefType, TrustedPublisher
from publishing.oidc.errors import TokenRequestError, invalid_publisher
from publishing.oidc.issuers import Issuer
from publishing.ref_patterns import ref_matches

Claims = dict[str, Any]
Candidates = Iterable[TrustedPublisher]


def _require(claims: Claims, names: Iterable[str]) -> None:
    for name in names:
        value = claims.get(name)
        if value is None or value == "":
            raise invalid_publisher(f"Missing claim {name!r}")


def active_publishers() -> QuerySet[TrustedPublisher]:
    """Publishers attached to a project or awaiting one through a pending publisher."""
    return (
        TrustedPublisher.objects.filter(
            Q(projects__isnull=False) | Q(pending_publishers__isnull=False)
        )
        .distinct()
        .select_related("issuer")
        .order_by("pk")
    )


def _split_ref(value: str) -> tuple[str, str]:
    path, _, ref = value.rpartition("@")
    return path, ref


# GitHub Actions ---------------------------------------------------------------------------


def _github_candidates(issuer: Issuer, claims: Claims) -> tuple[Candidates, str]:
    _require(
        claims,
        [
            "repository",
            "repository_owner",
            "repository_owner_id",
            "workflow_ref",
            "job_workflow_ref",
            "event_name",
        ],
    )
    if not claims.get("ref") and not claims.get("sha"):
        raise invalid_publisher("Missing claim 'ref' or 'sha'")
    event = claims["event_name"]
    if event in settings.OIDC_GITHUB_DENIED_EVENTS:
        raise invalid_publisher(
            f"Publishing from a workflow triggered by {event!r} is not supported: such "
            "workflows can run code from forks. Publish from a push, tag or release workflow"
        )
    owner, _, name = str(claims["repository"]).partition("/")
    if owner.lower() != str(claims["repository_owner"]).lower():
        raise invalid_publisher("the 'repository' and 'repository_owner' claims disagree")
    candidates = active_publishers().filter(
        provider=Provider.GITHUB, repository_owner__iexact=owner, repository_name__iexact=name
    )
    return candidates, f"no trusted publisher is configured for repository {claims['repository']!r}"


def _github_mismatches(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    problems = []
    owner_id = str(claims["repository_owner_id"])
    if owner_id != publisher.repository_owner_id:
        problems.append(
            f"claim 'repository_owner_id' is {owner_id!r} but the publisher expects "
            f"{publisher.repository_owner_id!r}: the owner account was deleted and re-created, "
            "so the publisher must be registered again"
        )
    if publisher.uses_reusable_workflow:
        problems.extend(_reusable_workflow_mismatch(publisher, claims))
    else:
        problems.extend(_caller_workflow_mismatch(publisher, claims))
    problems.extend(_ref_mismatch(publisher, claims, ref_claim="ref", run="workflow"))
    problems.extend(_environment_mismatch(publisher, claims, case_sensitive=False))
    return problems


def _caller_workflow_mismatch(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    """The caller workflow form: the publishing job is the caller workflow's own.

    `workflow_ref` names the workflow the run started from and `job_workflow_ref` the one
    that defines the job asking for the token; both must be the publisher's workflow file,
    at the run's ref or commit. A job of a reusable workflow the caller calls is refused: the
    publisher did not name it, and it may live in a repository someone else controls.
    """
    expected = (
        f"{publisher.repository_owner}/{publisher.repository_name}"
        f"/.github/workflows/{publisher.workflow_filename}"
    )
    caller, caller_ref = _split_ref(str(claims["workflow_ref"]))
    job, job_ref = _split_ref(str(claims["job_workflow_ref"]))
    if not _same_workflow(caller, expected):
        return [
            (
                f"claim 'workflow_ref' is {claims['workflow_ref']!r} but the publisher expects "
                f"the workflow {expected!r}"
            )
        ]
    if not _same_workflow(job, expected):
        repository, _, file = job.partition("/.github/")
        return [
            (
                f"claim 'job_workflow_ref' is {claims['job_workflow_ref']!r}: the publishing job "
                f"runs in a reusable workflow, but the publisher expects the workflow {expected!r} "
                "itself. To publish from the reusable workflow, register a publisher naming it: "
                f"repository {repository!r}, path '.github/{file}'"
            )
        ]
    for name, ref in (("workflow_ref", caller_ref), ("job_workflow_ref", job_ref)):
        if not ref or ref not in {claims.get("ref"), claims.get("sha")}:
            return [f"claim {name!r} names {ref!r}, which is neither the 'ref' nor the 'sha' claim"]
    return []


def _reusable_workflow_mismatch(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    """The reusable workflow form: `job_workflow_ref` is the named workflow, at a matching ref.

    The caller repository and owner id are pinned by the candidates and the owner-id check;
    which workflow of the caller repository calls the reusable one is left open on purpose:
    a shared release workflow is called from whichever file a project keeps.
    """
    job, ref = _split_ref(str(claims["job_workflow_ref"]))
    if not _same_workflow(job, publisher.reusable_workflow):
        return [
            (
                f"claim 'job_workflow_ref' is {claims['job_workflow_ref']!r} but the publisher "
                f"expects the reusable workflow {publisher.reusable_workflow!r}"
            )
        ]
    pattern = publisher.reusable_workflow_ref
    if pattern and not ref_matches(pattern, ref):
        return [
            (
                f"claim 'job_workflow_ref' names the reusable workflow at {ref!r} but the "
                f"publisher requires a ref matching {pattern!r}"
            )
        ]
    return []


def _same_workflow(path: str, expected: str) -> bool:
    """Compare `owner/repo/.github/workflows/file`: the repository in any case, the file exactly."""
    repository, _, file = path.partition("/.github/workflows/")
    expected_repository, _, expected_file = expected.partition("/.github/workflows/")
    return (
        bool(file) and repository.lower() == expected_repository.lower() and (file == expected_file)
    )


def _ran_for(full_ref: str) -> tuple[str, str]:
    """Split `refs/tags/v1` into ("tag", "v1"), `refs/heads/x` into ("branch", "x");
    any other ref (a pull or merge request's) is ("", the ref)."""
    for prefix, kind in (("refs/tags/", RefType.TAG), ("refs/heads/", RefType.BRANCH)):
        if full_ref.startswith(prefix):
            return kind, full_ref.removeprefix(prefix)
    return "", full_ref


def _ref_mismatch(
    publisher: TrustedPublisher, claims: Claims, *, ref_claim: str, run: str
) -> list[str]:
    """The publisher's tag or branch requirement against the ref the run was for.

    The kind comes from the full ref (`refs/tags/...`), which both providers sign; their
    `ref_type` claim must agree with it, so a token can never be a tag by one claim and a
    branch by the other.
    """
    if not publisher.ref_type:
        return []
    full_ref = claims.get(ref_claim)
    if not isinstance(full_ref, str) or not full_ref:
        return [
            (
                f"the publisher requires {publisher.ref_requirement} but the token has no "
                f"{ref_claim!r} claim: publish from a workflow triggered by a push or a tag"
            )
        ]
    kind, name = _ran_for(full_ref)
    claimed_type = claims.get("ref_type")
    if kind and claimed_type is not None and claimed_type != kind:
        return [f"claims 'ref_type' ({claimed_type!r}) and {ref_claim!r} ({full_ref!r}) disagree"]
    if kind == publisher.ref_type and (
        not publisher.ref_pattern or ref_matches(publisher.ref_pattern, name)
    ):
        return []
    ran = f"{kind} {name!r}" if kind else f"ref {full_ref!r}"
    return [
        (
            f"the {run} ran for {ran} (claim {ref_claim!r} is {full_ref!r}) but the publisher "
            f"requires {publisher.ref_requirement}"
        )
    ]


def _protected_ref_mismatch(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    """GitLab's `ref_protected` ("true"/"false"): only maintainers push to protected refs."""
    if not publisher.requires_protected_ref:
        return []
    protected = claims.get("ref_protected")
    if protected is True or protected == "true":
        return []
    kind, name = _ran_for(str(claims.get("ref_path", "")))
    ran = f"{kind} {name!r}" if kind else f"ref {name!r}"
    return [
        (
            f"the pipeline ran for {ran}, which is not protected (claim 'ref_protected' is "
            f"{protected!r}), but the publisher accepts protected branches and tags only: protect "
            "it under the GitLab project's Settings > Repository, or publish from a protected one"
        )
    ]


def _environment_mismatch(
    publisher: TrustedPublisher, claims: Claims, *, case_sensitive: bool
) -> list[str]:
    if not publisher.environment:
        return []
    environment = claims.get("environment")
    if not environment:
        return [
            (
                f"the publisher expects environment {publisher.environment!r} but the token has no "
                "'environment' claim: set `environment:` on the publishing job"
            )
        ]
    same = (
        environment == publisher.environment
        if case_sensitive
        else str(environment).lower() == publisher.environment.lower()
    )
    if not same:
        return [
            (
                f"claim 'environment' is {environment!r} but the publisher expects "
                f"{publisher.environment!r}"
            )
        ]
    return []


# GitLab CI/CD -----------------------------------------------------------------------------


def _gitlab_candidates(issuer: Issuer, claims: Claims) -> tuple[Candidates, str]:
    _require(claims, ["sub", "project_path", "ci_config_ref_uri", "ref_path", "sha"])
    namespace, _, project = str(claims["project_path"]).rpartition("/")
    candidates = active_publishers().filter(
        provider=Provider.GITLAB, namespace__iexact=namespace, project__iexact=project
    )
    # A self-managed instance is another issuer: only its own publishers may match.
    if issuer.registered is not None:
        candidates = candidates.filter(issuer=issuer.registered)
    else:
        candidates = candidates.filter(issuer__isnull=True)
    return candidates, (
        f"no trusted publisher is configured for GitLab project {claims['project_path']!r} "
        f"on {issuer.url}"
    )


def _gitlab_mismatches(publisher: TrustedPublisher, claims: Claims, issuer: Issuer) -> list[str]:
    problems = []
    full_path = f"{publisher.namespace}/{publisher.project}"
    parts = str(claims["sub"]).split(":")
    if len(parts) < 2 or parts[0] != "project_path" or parts[1].lower() != full_path.lower():
        problems.append(f"claim 'sub' is {claims['sub']!r} but names another project")
    host = urlsplit(issuer.url).netloc
    expected_path = f"{host}/{full_path}//{publisher.workflow_filepath}"
    path, ref = _split_ref(str(claims["ci_config_ref_uri"]))
    if path.lower() != expected_path.lower():
        problems.append(
            f"claim 'ci_config_ref_uri' is {claims['ci_config_ref_uri']!r} but the publisher "
            f"expects the pipeline {expected_path!r}"
        )
    elif ref not in {claims.get("ref_path"), claims.get("sha")}:
        problems.append(
            f"claim 'ci_config_ref_uri' names {ref!r}, which is neither 'ref_path' nor 'sha'"
        )
    problems.extend(_ref_mismatch(publisher, claims, ref_claim="ref_path", run="pipeline"))
    problems.extend(_protected_ref_mismatch(publisher, claims))
    problems.extend(_environment_mismatch(publisher, claims, case_sensitive=True))
    return problems


# Google Cloud -----------------------------------------------------------------------------


def _google_candidates(issuer: Issuer, claims: Claims) -> tuple[Candidates, str]:
    _require(claims, ["email"])
    if claims.get("email_verified") is not True:
        raise invalid_publisher("the 'email_verified' claim must be true")
    candidates = active_publishers().filter(provider=Provider.GOOGLE, email__iexact=claims["email"])
    return candidates, f"no trusted publisher is configured for {claims['email']!r}"


def _google_mismatches(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    if publisher.subject and claims.get("sub") != publisher.subject:
        return [
            f"claim 'sub' is {claims.get('sub')!r} but the publisher expects {publisher.subject!r}"
        ]
    return []


# Custom issuers ---------------------------------------------------------------------------

RULE_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda actual, expected: actual == expected,
    "startswith": lambda actual, expected: actual.startswith(expected),
}


def rule_holds(rule: dict, claims: Claims) -> bool:
    actual = claims.get(rule["claim"])
    if not isinstance(actual, str | int | bool) or isinstance(actual, bool):
        return False
    return RULE_OPERATORS[rule["op"]](str(actual), rule["value"])


def _custom_candidates(issuer: Issuer, claims: Claims) -> tuple[Candidates, str]:
    publishers = active_publishers().filter(provider=Provider.CUSTOM, issuer=issuer.registered)
    # A candidate shares at least one exact-match rule with the token, so explaining its other
    # rules reveals nothing the token's holder does not already control.
    candidates = [
        publisher
        for publisher in publishers
        if publisher.claim_rules
        and any(
            rule["op"] == "equals" and rule_holds(rule, claims) for rule in publisher.claim_rules
        )
    ]
    return candidates, f"no trusted publisher of {issuer.url} matches this token's claims"


def _custom_mismatches(publisher: TrustedPublisher, claims: Claims) -> list[str]:
    """The failing rules of a custom publisher, with expected values only when safe to show.

    A candidate shares one exact rule with the token, but that rule may pin something anyone
    can have (`ref == refs/heads/main`). Expected values are shown only when every exact rule
    holds, that is when the token is the CI identity the publisher pins and only a narrower
    rule (a ref prefix) failed; otherwise the refusal names the claims, never the values
    another project's publisher expects.
    """
    if not publisher.claim_rules:
        return ["the publisher has no claim rules"]
    failing = [rule for rule in publisher.claim_rules if not rule_holds(rule, claims)]
    identity_proven = all(
        rule_holds(rule, claims) for rule in publisher.claim_rules if rule["op"] == "equals"
    )
    if not identity_proven:
        return [
            f"claim {rule['claim']!r} is {claims.get(rule['claim'])!r}, which the publisher's "
            "rules do not accept"
            for rule in failing
        ]
    return [
        f"claim {rule['claim']!r} is {claims.get(rule['claim'])!r} but the publisher requires "
        f"it to {rule['op'].replace('startswith', 'start with').replace('equals', 'equal')} "
        f"{rule['value']!r}"
        for rule in failing
    ]


def _specificity(publisher: TrustedPublisher) -> tuple:
    narrowing = (
        publisher.environment,
        publisher.subject,
        publisher.reusable_workflow_ref,
        publisher.ref_type,
        publisher.requires_protected_ref,
    )
    return (-sum(1 for value in narrowing if value), -len(publisher.claim_rules))


def find_publishers(issuer: Issuer, claims: Claims) -> list[TrustedPublisher]:
    """Return every publisher the claims satisfy, most specific first; or refuse.

    Not only the first: anyone may register a publisher for any CI identity, so returning the
    most specific match alone would let someone register a narrower copy of another project's
    publisher (the same workflow plus an environment) and have that project's releases get a
    token for their publisher instead (shadowing). The refusal names the differences of the
    closest candidate.
    """
    provider = issuer.provider
    if provider == Provider.GITHUB:
        candidates, none_message = _github_candidates(issuer, claims)
        check = lambda publisher: _github_mismatches(publisher, claims)  # noqa: E731 - tiny adapter
    elif provider == Provider.GITLAB:
        candidates, none_message = _gitlab_candidates(issuer, claims)
        check = lambda publisher: _gitlab_mismatches(publisher, claims, issuer)  # noqa: E731 - tiny adapter
    elif provider == Provider.GOOGLE:
        candidates, none_message = _google_candidates(issuer, claims)
        check = lambda publisher: _google_mismatches(publisher, claims)  # noqa: E731 - tiny adapter
    elif provider == Provider.CUSTOM:
        candidates, none_message = _custom_candidates(issuer, claims)
        check = lambda publisher: _custom_mismatches(publisher, claims)  # noqa: E731 - tiny adapter
    else:  # pragma: no cover - Provider is a closed set
        raise TokenRequestError("invalid-payload", "unknown trusted publishing issuer")
    ordered = sorted(candidates, key=_specificity)
    if not ordered:
        raise invalid_publisher(none_message)
    explained = [(publisher, check(publisher)) for publisher in ordered]
    matched = [publisher for publisher, problems in explained if not problems]
    if matched:
        return matched
    _, problems = min(explained, key=lambda item: len(item[1]))
    raise invalid_publisher("; ".join(problems))
