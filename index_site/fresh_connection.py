"""Replacing a persistent database connection that died: between requests, or while a request
waited on its client.

A failover, a proxy's idle timeout or a restarted server cuts the connections a web process
keeps (CONN_MAX_AGE). Django can check a reused connection with a `SELECT 1` before each
request's first query (CONN_HEALTH_CHECKS, on in production), which doubles the round trips of
the install path: a simple page reads one row. So `DroppedConnectionMiddleware` lets a request
that changes nothing skip the check, and runs it once more on a fresh connection if its query
meets a dead one; a request that may change something keeps the check, since running it twice
could do it twice.

The check covers the start of a request only: one that then waits a long time without the
database, as an upload does while a 100 MB body streams in for a minute after its token was
checked, checks again before it writes (`reconnect_if_dropped`).
"""

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from index_site.outages import Dependency, outage_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def reconnect_if_dropped(using: str = DEFAULT_DB_ALIAS) -> None:
    """Close the connection if it no longer answers, so the next query opens a fresh one.

    Costs one round trip (`SELECT 1`). Only outside a transaction: inside one, a lost
    connection has lost the transaction too, and reconnecting would hide that.
    """
    connection = connections[using]
    if connection.connection is None or connection.in_atomic_block:
        return
    if not connection.is_usable():
        connection.close()


class DroppedConnectionMiddleware:
    """A request that changes nothing meets a dead persistent connection unnoticed: the
    connection is replaced and the view runs once more (see the module's docstring).

    Only a view's query is retried; a database that is really down fails the retry as well,
    and the request is answered by `OutageMiddleware` (503), which must come before this one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS:
            # Read by Django before the request's first query: the check counts as done.
            connections[DEFAULT_DB_ALIAS].health_check_done = True  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.method not in SAFE_METHODS or getattr(request, "connection_replaced", False):
            return None
        if outage_of(exception) is not Dependency.DATABASE:
            return None
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.connection is None or connection.in_atomic_block or connection.is_usable():
            return None
        connection.close()
        request.connection_replaced = True  # type: ignore[attr-defined]
        return self.get_response(request)
