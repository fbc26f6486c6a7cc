"""Where a person goes next: only ever a same-site URL (no open redirect).

It also carries the two-factor setup detour: a person sent to add a second factor first, on the
way to a page (an invitation, the admin, a project), returns to that page once a method is
added. The page travels as `?next=` to the two-factor page, which keeps it in the session;
adding a method (or leaving the recovery codes shown after it) sends them there. The URL is
checked on the way in and again on the way out.
"""

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from index_site.single_values import single_query_value

RETURN_URL_KEY = "two_factor_return_url"


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    """Return `candidate` when it is a same-site URL safe to redirect to, else ""."""
    if not candidate:
        return ""
    is_safe = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if is_safe else ""


def two_factor_setup_redirect(
    request: HttpRequest, *, next_url: str | None
) -> HttpResponseRedirect:
    """Send the visitor to the two-factor page, to come back to `next_url` (if safe) after."""
    target = reverse("accounts:two_factor")
    safe = safe_next_url(request, next_url)
    if safe:
        target += "?" + urlencode({"next": safe})
    return HttpResponseRedirect(target)


def where_the_request_was_going(request: HttpRequest) -> str | None:
    """The page to come back to: this one for a GET, else the page the form was posted from."""
    if request.method == "GET":
        return request.get_full_path()
    return request.headers.get("referer")


def remember_return_url(request: HttpRequest) -> str:
    """Keep the safe `?next=` of the two-factor page in the session; return what is kept."""
    safe = safe_next_url(request, single_query_value(request.GET, "next"))
    if safe:
        request.session[RETURN_URL_KEY] = safe
    return request.session.get(RETURN_URL_KEY, "")


def take_return_url(request: HttpRequest) -> str:
    """The kept page to return to, removed from the session; "" when there is none."""
    return safe_next_url(request, request.session.pop(RETURN_URL_KEY, None))
