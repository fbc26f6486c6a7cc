"""An upload whose COMMIT is cut off never loses its file, and one rolled back leaves nothing.

The fault is made the way it happens in production, on a PostgreSQL cluster of the test's own
(never the shared server's settings): `synchronous_standby_names` names a standby that does not
exist, so a COMMIT waits for it after the commit record is written; terminating the backend
while it waits makes the client library raise although the transaction has committed. The
other faults: a backend terminated while it waits for the project lock (before COMMIT), and one
terminated inside a deferred trigger that COMMIT runs (COMMIT raises, and this time the server
rolled back). The test process's database connection is pointed at the cluster for each test.
"""

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connections
from django.db.utils import ConnectionHandler
from django.test import Client

from projects.models import File, FilenameRegistry, Project, Release
from projects.services.files import check_storage, delete_orphaned_files, storage_path_for
from publishing.upload.pipeline import COMMIT_OUTCOME_UNKNOWN_MESSAGE
from tests.e2e.conftest import free_port
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import make_wheel
from tests.publishing.upload.test_storage_consistency import _age, stored_files

pytestmark = pytest.mark.services

TEMPLATE_DATABASE = "gatehouse_template"
WATCH_DEADLINE = 30.0  # seconds to wait for the held backend before the test fails


def _postgresql_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.skip("Needs PostgreSQL's server programs (initdb, pg_ctl): install postgresql.")
    return Path(initdb).parent


@dataclass
class Cluster:
    port: int
    directory: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(self.dsn(database), autocommit=True) as admin:
            admin.execute(sql)


@pytest.fixture(scope="module")
def cluster(django_db_blocker) -> Iterator[Cluster]:
    """A private PostgreSQL whose COMMITs can be held, with the schema migrated once."""
    bin_dir = _postgresql_bin()
    directory = Path(tempfile.mkdtemp(prefix="gatehouse-pg-"))
    # initdb refuses to run as root: the cluster then belongs to the postgres system user.
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(directory, "postgres")
    port = free_port()
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
        # A COMMIT waits for this standby only where synchronous_commit is turned on.
        "-c synchronous_standby_names=nosuch -c synchronous_commit=local"
    )
    data = directory / "data"
    pg_ctl = [*run_as, bin_dir / "pg_ctl", "-D", data]
    subprocess.run(
        [*run_as, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*pg_ctl, "-l", directory / "log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    cluster = Cluster(port=port, directory=directory)
    try:
        cluster.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
        with _django_connected_to(cluster, TEMPLATE_DATABASE, django_db_blocker):
            call_command("migrate", verbosity=0)
        yield cluster
    finally:
        subprocess.run(
            [*pg_ctl, "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _django_connected_to(cluster: Cluster, database: str, django_db_blocker) -> Iterator[None]:
    """Point the default database connection at `database` on the cluster, then back."""
    wrapper = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": database,
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": cluster.port,
            }
        }
    )["default"]
    saved = connections["default"]
    connections["default"] = wrapper
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        wrapper.close()
        connections["default"] = saved


@dataclass
class Database:
    cluster: Cluster
    name: str

    def execute(self, sql: str) -> None:
        self.cluster.execute(sql, self.name)

    def on_file_insert(self, body: str) -> None:
        """Run the PL/pgSQL `body` in the transaction that inserts a File row, at COMMIT
        when `deferred`, so only the upload's own transaction meets the fault."""
        self.execute(
            f"CREATE FUNCTION on_file_insert() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {body}; RETURN NULL; END $$; "
            "CREATE CONSTRAINT TRIGGER on_file_insert AFTER INSERT ON projects_file "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION on_file_insert()"
        )

    def remove_fault(self) -> None:
        self.execute("DROP TRIGGER on_file_insert ON projects_file")


_database_count = iter(range(1_000_000))


@pytest.fixture
def database(cluster, django_db_blocker) -> Iterator[Database]:
    """A fresh copy of the migrated database, used by the test's Django connection."""
    name = f"upload_{next(_database_count)}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}")
    with _django_connected_to(cluster, name, django_db_blocker):
        yield Database(cluster=cluster, name=name)


@pytest.fixture
def uploader(database):
    return TwoFactorUserFactory(username="uploader")


@pytest.fixture
def client() -> Client:
    # A request whose database connection dies answers as the site does, not by raising here.
    return Client(raise_request_exception=False)


@contextmanager
def terminating_backend(database: Database, *, waiting_on: str) -> Iterator[list[int]]:
    """Terminate the backend of `database` once it waits on `waiting_on`; yield its pid.

    `waiting_on` is a wait event of pg_stat_activity (`SyncRep`) or its type (`Lock`).

    Watched from a connection of its own while the test's request runs. Past the deadline
    every backend of the database is terminated, so a fault that never comes cannot hang the
    test; the empty pid list then fails it.
    """
    terminated: list[int] = []
    finished = threading.Event()

    def watch() -> None:
        with psycopg.connect(database.cluster.dsn(), autocommit=True) as admin:
            deadline = threading.Timer(WATCH_DEADLINE, finished.set)
            deadline.start()
            try:
                while not finished.is_set():
                    row = admin.execute(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = %s AND %s IN (wait_event, wait_event_type)",
                        [database.name, waiting_on],
                    ).fetchone()
                    if row is not None:
                        admin.execute("SELECT pg_terminate_backend(%s)", row)
                        terminated.append(row[0])
                        return
                    finished.wait(0.02)
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [database.name],
                )
            finally:
                deadline.cancel()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield terminated
    finally:
        finished.set()
        watcher.join()


def _download(client: Client, path: str) -> bytes:
    response = client.get(f"/files/{path}")
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def stored_files_of(path: str) -> list[str]:
    return [name for name in (path, f"{path}.metadata") if default_storage.exists(name)]


def _listed(client: Client) -> str:
    return client.get("/simple/sample-pkg/").content.decode()


def test_upload_whose_commit_is_cut_off_after_the_server_committed_is_served(
    database, upload, client
):
    wheel = make_wheel()
    # The cluster waits for the standby only where synchronous_commit is on: here, in the
    # upload's transaction alone (the token's use before it commits on its own).
    database.on_file_insert("PERFORM set_config('synchronous_commit', 'on', true)")

    with terminating_backend(database, waiting_on="SyncRep") as terminated:
        response = upload(wheel)

    assert terminated, "The upload's COMMIT never waited for the standby."
    database.remove_fault()
    assert response.status_code == 503
    assert refusal(response) == COMMIT_OUTCOME_UNKNOWN_MESSAGE
    # The server committed: the file is published, listed and downloadable.
    file = File.objects.get()
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    assert wheel.filename in _listed(client)
    assert _download(client, file.path) == wheel.content
    assert _download(client, file.path + ".metadata").startswith(b"Metadata-Version: 2.1")
    assert check_storage().missing_objects == []
    # The sweep keeps what a row references, and the client's retry is answered truthfully.
    assert delete_orphaned_files(older_than=timedelta(0)) == 0
    assert "nothing changed" in upload(wheel).content.decode()


def test_upload_whose_commit_raised_after_the_server_rolled_back_leaves_nothing_after_the_sweep(
    database, upload, client
):
    # The deferred trigger runs inside COMMIT: terminated there, the transaction rolls back.
    database.on_file_insert("PERFORM pg_sleep(3600)")
    wheel = make_wheel()
    path = storage_path_for(blake2_256_digest=wheel.blake2_256, filename=wheel.filename)

    with terminating_backend(database, waiting_on="PgSleep") as terminated:
        response = upload(wheel)

    assert terminated, "The upload's COMMIT never ran the deferred trigger."
    assert refusal(response) == COMMIT_OUTCOME_UNKNOWN_MESSAGE
    assert not File.objects.exists()
    assert not Project.objects.exists()
    assert client.get(f"/files/{path}").status_code == 404
    # Kept, as the outcome was unknown, until the sweep finds no row referencing it.
    assert [item.path for item in check_storage().unreferenced_objects] == [
        path,
        f"{path}.metadata",
    ]
    assert delete_orphaned_files(older_than=timedelta(0)) == 2
    assert stored_files_of(path) == []


def test_upload_whose_backend_dies_before_commit_leaves_nothing(database, upload, client):
    published = make_wheel()
    upload(published)
    wheel = make_wheel(version="2.0")
    project = Project.objects.get()
    with psycopg.connect(database.cluster.dsn(database.name)) as holder:
        # The upload waits for the project row lock, inside its transaction.
        holder.execute("SELECT 1 FROM projects_project WHERE id = %s FOR UPDATE", [project.pk])
        with terminating_backend(database, waiting_on="Lock") as terminated:
            response = upload(wheel)
        holder.rollback()

    assert terminated, "The upload never waited for the project lock."
    assert response.status_code >= 500
    assert list(File.objects.values_list("filename", flat=True)) == [published.filename]
    assert not Release.objects.filter(version="2.0").exists()
    assert not FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    assert wheel.filename not in _listed(client)
    path = storage_path_for(blake2_256_digest=wheel.blake2_256, filename=wheel.filename)
    assert stored_files_of(path) == []
    assert check_storage().unreferenced_objects == []


def test_sweep_keeps_objects_stored_since_the_oldest_open_transaction_began(database, settings):
    old = storage_path_for(blake2_256_digest="ab" * 32, filename="old-1.0.tar.gz")
    default_storage.save(old, ContentFile(b"x"))
    _age(settings, old, hours=2)
    with psycopg.connect(database.cluster.dsn(database.name)) as in_flight:
        # A transaction open from here on, and an object stored just after it began.
        (began,) = in_flight.execute(
            "SELECT xact_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()
        young = storage_path_for(blake2_256_digest="cd" * 32, filename="young-1.0.tar.gz")
        default_storage.save(young, ContentFile(b"x"))
        stored_at = (began + timedelta(milliseconds=1)).timestamp()
        os.utime(Path(settings.MEDIA_ROOT) / young, (stored_at, stored_at))

        # With no age at all, only the transaction keeps the young object.
        assert delete_orphaned_files(older_than=timedelta(0)) == 1
        assert not default_storage.exists(old)
        assert default_storage.exists(young)

        in_flight.rollback()
    assert delete_orphaned_files(older_than=timedelta(0)) == 1
    assert stored_files(settings) == []
