"""Dependencies a test can take down: a private Redis server and a TCP proxy it can cut.

Outage tests never stop the machine's shared PostgreSQL or Redis. They start a Redis of their
own, or put a proxy between the app and the shared PostgreSQL and cut that.
"""

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import free_port

START_DEADLINE = 10.0  # seconds a private server may take to answer before the test fails


class PrivateRedis:
    """A redis-server on a free port, with no persistence; `stop()` and `start()` it at will."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("Needs redis-server: install redis.")
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="gatehouse-redis-"))
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("The private redis-server did not start.")
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class TcpProxy:
    """Forward 127.0.0.1:`port` to `target`; `cut()` drops every connection and refuses new ones.

    While cut, connections are accepted and closed at once, as a failed-over server or a dead
    load balancer does; `restore()` forwards again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        # accept() wakes up now and then to notice close(): closing the socket does not wake it.
        self._listener.settimeout(0.1)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._is_cut = False
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        with self._lock:
            self._is_cut = True
            sockets, self._open = self._open, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        with self._lock:
            self._is_cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
        self._acceptor.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                is_cut = self._is_cut
            if is_cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
