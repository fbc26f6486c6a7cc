"""PostgreSQL backends cut from outside, the way a failover or a proxy's timeout cuts them."""

import psycopg
from django.db import connections


def _admin_dsn() -> str:
    config = connections["default"].settings_dict
    return psycopg.conninfo.make_conninfo(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname=config["NAME"],
    )


def terminate_request_backend() -> int:
    """Terminate the backend of this thread's connection, the request's; wait until it is gone."""
    pid = connections["default"].connection.info.backend_pid
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        # pg_terminate_backend only signals; the request must meet a connection already dead.
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            admin.execute("SELECT pg_sleep(0.01)")
    return pid
