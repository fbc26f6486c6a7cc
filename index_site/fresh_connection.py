"""Replacing a persistent database connection that died: between requests, or while a request
waited on its client.

A failover, a proxy's idle timeout or a restarted server cuts the connections a web process
keeps (CONN_MAX_AGE). Django can check a reused connection with a `SELECT 1` before each
request's first query (CONN_HEALTH_CHECKS, on in production), which doubles the round trips of
the install path: a simple page reads one row. So `DroppedConnectionMiddleware` lets a request
that changes nothing skip the check, and runs it once more on a fresh connection if its query
meets a dead one; a request that may change something keeps the check, since running it twice
could do it twice.

An upload needs no check either. It begins with a wait for the database (its token read,
after the connection idled between requests) and meets another once its body has streamed in,
which may take a minute; each of these steps runs as `with_fresh_connection(step)`: once more
on a fresh connection when its first query meets a dead one. Nothing the step did can have
reached the database before that query, so nothing is done twice, and an upload makes no
`SELECT 1` at all (two round trips fewer, about a tenth of its round trips).
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from index_site.outages import Dependency, outage_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


def with_fresh_connection(step: Callable[[], T], using: str = DEFAULT_DB_ALIAS) -> T:
    """Run `step` without checking the connection first; run it once more on a fresh one if
    its first query failed because the connection is dead.

    For a step whose first database work is a query (any write before it, to the cache say,
    would be done twice). A failure after the first query, or on a live connection, propagates,
    and so does the retry's: a database that is down answers 503. Inside a transaction the
    step runs once: a lost connection has lost the transaction too, and a retry would hide that.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return step()
    # Read by Django before the step's first query: the check counts as done.
    connection.health_check_done = True  # type: ignore[attr-defined]
    queries_run = 0

    def count(execute, sql, params, many, context):
        nonlocal queries_run
        result = execute(sql, params, many, context)
        queries_run += 1
        return result

    try:
        with connection.execute_wrapper(count):
            return step()
    except Exception as exc:
        if queries_run or outage_of(exc) is not Dependency.DATABASE:
            raise
        if connection.connection is None or connection.is_usable():
            raise
    connection.close()
    return step()


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
