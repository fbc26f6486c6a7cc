"""GitHub's REST API, asked for an account's canonical login and numeric id when a GitHub
publisher is registered (the id stops a deleted and re-created account from publishing)."""

import requests
from django.conf import settings

from publishing.publisher_errors import PublisherError

GITHUB_API_TIMEOUT = 5


def lookup_github_owner(owner: str) -> tuple[str, str]:
    """Return (login, id) of the GitHub user or organization `owner`.

    Raise PublisherError with a sentence to show when GitHub has no such account or cannot be
    asked right now.
    """
    url = f"{settings.OIDC_GITHUB_API_URL.rstrip('/')}/users/{owner}"
    try:
        response = requests.get(
            url, timeout=GITHUB_API_TIMEOUT, headers={"Accept": "application/json"}
        )
    except requests.RequestException:
        response = None
    if response is not None and response.status_code == 404:
        raise PublisherError(f"GitHub has no user or organization named {owner!r}.")
    try:
        data = response.json() if response is not None and response.ok else {}
    except ValueError:
        data = {}
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), int)
        or not isinstance(data.get("login"), str)
    ):
        raise PublisherError(
            "GitHub could not be asked for the owner's ID right now. Enter it yourself "
            f"(the `id` at https://api.github.com/users/{owner}) or try again later."
        )
    return data["login"], str(data["id"])
