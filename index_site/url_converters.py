"""The URL converters every text capture uses: `<text:name>` and `<textpath:path>`.

Django's `str` and `path` converters pass any character on to the view, and a NUL in
`/simple/<name>/` went straight into a query, where PostgreSQL raised an error (a 500). These
converters refuse a value the database cannot store (see `index_site.storable_text`), so the
URL does not match and the answer is the site's 404, the same as for any other unknown name,
before any view or query runs. A test walks the resolver and refuses a `str` or `path` capture.
"""

from django.urls.converters import PathConverter, StringConverter

from index_site.storable_text import first_unstorable_character


class TextConverter(StringConverter):
    """One path segment (no `/`) the database can store."""

    def to_python(self, value: str) -> str:
        if first_unstorable_character(value) is not None:
            raise ValueError("unstorable character in URL")
        return value


class TextPathConverter(PathConverter):
    """One or more path segments (`/` allowed) the database can store."""

    def to_python(self, value: str) -> str:
        if first_unstorable_character(value) is not None:
            raise ValueError("unstorable character in URL")
        return value


CONVERTERS = {"text": TextConverter, "textpath": TextPathConverter}
