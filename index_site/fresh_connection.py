"""Replacing a database connection that died while a request waited on its client.

Django checks a persistent connection once, when a request first uses it (CONN_HEALTH_CHECKS).
A request that then waits a long time without the database, as an upload does while a 100 MB
body streams in for a minute after its token was checked, can find that connection cut by a
failover, a proxy's idle timeout or a restarted server, and would fail on its first query.
"""

from django.db import DEFAULT_DB_ALIAS, connections


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
