"""A real, throwaway redis-server for tests: free loopback port, its own temp dir.

    with RedisServer() as server:          # or server.start() / server.stop()
        client = server.client()
        server.stop(); server.start()      # same port again: an outage and a recovery

No persistence by default (``--save '' --appendonly no``); pass ``extra_args`` to change
that. ``redis_server_binary()`` skips the calling test when redis-server is missing, or
fails it under ``CI=true`` where a missing binary is a broken build, not a choice.
The ``redis_server`` fixture (session scope) can be imported into a conftest; tests that
share it must use their own key prefix and never FLUSHDB.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence

import pytest
import redis

from tests.helpers import require
from tests.processes import free_port

logger = logging.getLogger(__name__)

DEFAULT_ARGS: tuple[str, ...] = ("--save", "", "--appendonly", "no")
START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """Path of redis-server; skip the test without it (fail it under CI=true)."""
    path = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if path:
        return path
    require(False, "redis-server not found on PATH (set REDIS_SERVER_BIN or install redis-server)")


class RedisServer:
    """One redis-server process; start() after stop() reuses the same port and directory."""

    def __init__(
        self, port: int | None = None, extra_args: Sequence[str] = DEFAULT_ARGS, binary: str | None = None
    ) -> None:
        self.binary = binary or redis_server_binary()
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.directory: str | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, **kwargs)

    def start(self) -> RedisServer:
        if self.process is not None:
            return self
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="redis-test-")
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.directory,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.extra_args,
        ]
        log_path = os.path.join(self.directory, "redis.log")
        with open(log_path, "ab") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        self._wait_until_ready(log_path)
        logger.info("redis-server pid %d on port %d", self.process.pid, self.port)
        return self

    def _wait_until_ready(self, log_path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            probe.close()
        self.stop()
        with open(log_path, encoding="utf-8", errors="replace") as log_file:
            tail = log_file.read()[-2000:]
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server shared by the whole test session."""
    with RedisServer() as server:
        yield server
