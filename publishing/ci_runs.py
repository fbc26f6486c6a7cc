"""Where a trusted-publishing upload came from: the CI run its identity token names.

Read from the verified claims when a token is minted, kept with the token
(`ApiToken.ci_run`) and copied into the upload's history event, so a maintainer reading
"uploaded through trusted publishing" sees the repository, workflow, ref and commit, and can
open the run itself: GitHub's run page, GitLab's pipeline page. The claims are signed by an
issuer this index trusts, yet every value that goes into a link is still checked for shape,
so a link never points anywhere but the provider's page of that run.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from publishing.models import Provider

GITHUB_SERVER = "https://github.com"
# owner/repository (GitHub), group/subgroup/project (GitLab): no dots alone, no empty parts.
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)+", re.ASCII)
_NUMBER = re.compile(r"[0-9]{1,20}", re.ASCII)
_MAX_LENGTH = 255


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value[:_MAX_LENGTH] if isinstance(value, str) else ""


def _number(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if _NUMBER.fullmatch(text) else ""


def _workflow_file(workflow_ref: str, repository: str) -> str:
    """`.github/workflows/release.yml` from `acme/widget/.github/workflows/release.yml@ref`."""
    path = workflow_ref.split("@", 1)[0]
    return path.removeprefix(f"{repository}/")


def _github(claims: dict[str, Any]) -> dict[str, str]:
    repository = _text(claims, "repository")
    run = {
        "repository": repository,
        "workflow": _workflow_file(_text(claims, "workflow_ref"), repository),
        "ref": _text(claims, "ref"),
        "sha": _text(claims, "sha"),
    }
    run_id, attempt = _number(claims, "run_id"), _number(claims, "run_attempt")
    if _PATH.fullmatch(repository) and run_id:
        url = f"{GITHUB_SERVER}/{repository}/actions/runs/{run_id}"
        run["run_url"] = f"{url}/attempts/{attempt}" if attempt else url
    return run


def _gitlab(claims: dict[str, Any], issuer_url: str) -> dict[str, str]:
    project_path = _text(claims, "project_path")
    config = _text(claims, "ci_config_ref_uri").split("@", 1)[0]
    run = {
        "repository": project_path,
        "workflow": config.split("//", 1)[1] if "//" in config else "",
        "ref": _text(claims, "ref_path"),
        "sha": _text(claims, "sha"),
    }
    pipeline_id = _number(claims, "pipeline_id")
    # GitLab's issuer is the instance's own URL (gitlab.com or a self-managed one).
    instance = urlsplit(issuer_url)
    if (
        instance.scheme in {"https", "http"}
        and instance.netloc
        and _PATH.fullmatch(project_path)
        and pipeline_id
    ):
        base = issuer_url.rstrip("/")
        run["run_url"] = f"{base}/{project_path}/-/pipelines/{pipeline_id}"
    return run


def ci_run_of(*, provider: str, issuer_url: str, claims: dict[str, Any]) -> dict[str, str]:
    """The run a verified identity token names, with a link to it when the provider has one.

    Empty for providers whose tokens name no run (Google Cloud, custom issuers).
    """
    if provider == Provider.GITHUB:
        run = _github(claims)
    elif provider == Provider.GITLAB:
        run = _gitlab(claims, issuer_url)
    else:
        return {}
    return {name: value for name, value in run.items() if value}
