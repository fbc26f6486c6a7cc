"""The public project page of a project with 1,000 files, and rendering long descriptions.

    .venv/bin/python -m bench project_page

In process, on a fresh SQLite database in a temporary directory, with Django's test client
(no server, no network): the page of a release with 1,000 files and of a project whose 100
releases hold 10 files each, cached descriptions; then readme-renderer on a 30 KB Markdown and
a 34 KB reStructuredText description (what an upload pays once per file, and a page pays once
per description and renderer version). The median of ROUNDS requests counts. Targets: a page
within 500 ms, a description within 500 ms, on 2 shared cores.
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench import Measurement

ROUNDS = 15
PAGE_LIMIT_MS = 500.0
DESCRIPTION_LIMIT_MS = 500.0
MARKDOWN = "\n\n".join(
    f"## Section {n}\n\nSome **bold** text, `code`, and [a link](https://example.org/{n}).\n\n"
    "```python\nprint('hello')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    for n in range(220)
)
RST = "Title\n=====\n\n" + "\n\n".join(
    f"Section {n}\n----------\n\nSome *emphasis*, ``code`` and `a link <https://example.org/{n}>`_."
    "\n\n.. code-block:: python\n\n   print('hello')"
    for n in range(260)
)


def _median_ms(action, rounds: int = ROUNDS) -> float:
    action()  # warm: templates compiled, descriptions cached
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _project(name: str, releases: int, files_per_release: int, *, first_digest: int) -> None:
    from accounts.models import User  # noqa: PLC0415 - after django.setup()
    from projects.models import File, Release  # noqa: PLC0415
    from projects.services.projects import create_project  # noqa: PLC0415

    owner = User.objects.create_user(username=f"{name}-owner", password=None)
    project = create_project(name=name, creator=owner)
    metadata = {"description": MARKDOWN, "description_content_type": "text/markdown"}
    created = Release.objects.bulk_create(
        Release(project=project, version=f"1.{n}", canonical_version=f"1.{n}", metadata=metadata)
        for n in range(releases)
    )
    pairs = [(release, n) for release in created for n in range(files_per_release)]
    File.objects.bulk_create(
        File(
            release=release,
            filename=f"{name}-{release.version}-{n}.tar.gz",
            packagetype=File.PackageType.SDIST,
            size=123456,
            md5_digest=f"{first_digest + index:032x}",
            sha256_digest=f"{first_digest + index:064x}",
            blake2_256_digest=f"{first_digest + index:064x}",
            path=f"{name}/{index}.tar.gz",
        )
        for index, (release, n) in enumerate(pairs)
    )


def main() -> list[Measurement]:
    workdir = Path(tempfile.mkdtemp(prefix="gh-bench-page-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "index_site.settings",
            "DATA_DIR": str(workdir),
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "DEBUG": "false",
            "SITE_URL": "http://testserver",
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
    )
    for key in ("REDIS_URL", "CACHE_URL"):
        os.environ.pop(key, None)
    import django  # noqa: PLC0415

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from projects.descriptions import render_description  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    _project("one-release", 1, 1000, first_digest=0)
    _project("many-releases", 100, 10, first_digest=10_000)
    client = Client()
    results = []
    for name in ("one-release", "many-releases"):
        url = f"/project/{name}/"
        assert client.get(url).status_code == 200  # noqa: S101 - a broken page must not be timed
        median = _median_ms(lambda url=url: client.get(url))
        print(f"{url}: median {median:.1f} ms over {ROUNDS} requests")
        results.append(Measurement(f"page {name}, 1,000 files", median, PAGE_LIMIT_MS, "ms"))
    for label, text, content_type in (
        ("markdown", MARKDOWN, "text/markdown"),
        ("rst", RST, "text/x-rst"),
    ):
        median = _median_ms(lambda t=text, c=content_type: render_description(t, c), rounds=5)
        print(f"{label} description, {len(text) // 1024} KB: median {median:.1f} ms")
        results.append(
            Measurement(
                f"render {label} {len(text) // 1024} KB", median, DESCRIPTION_LIMIT_MS, "ms"
            )
        )
    return results
