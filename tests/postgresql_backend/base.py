"""Django's PostgreSQL backend, emptying the tables between transactional tests by DELETE.

Django empties every table after each `transactional_db` test with one TRUNCATE of all of them;
PostgreSQL gives each truncated table new files, which costs a few milliseconds per table
(40 tables: 0.1-0.25 s a test). DELETE on the few rows a test leaves costs almost nothing. The
end state is the same: every table empty, sequences where they were (as TRUNCATE without
RESTART IDENTITY leaves them). Tables carrying triggers of their own (the audit log's
append-only ones refuse DELETE) are still truncated, as their migration expects.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT relname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
                "WHERE NOT tgisinternal AND relname = ANY(%s)",
                [list(tables)],
            )
            guarded = sorted(name for (name,) in cursor.fetchall())
        statements = super().sql_flush(style, guarded, allow_cascade=True) if guarded else []
        # Foreign keys are DEFERRABLE: checked at the commit, once every table is empty.
        statements.append("SET CONSTRAINTS ALL DEFERRED;")
        statements.extend(
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in guarded
        )
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
