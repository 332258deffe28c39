"""The admin session version: a counter every worker and instance reads, raised by each logout.

A session cookie is signed by the client-visible Flask session, so deleting it in one browser does
not stop a copy from being replayed. Each admin session carries a stamp bound to this version (and
to the token); logging out raises the version, which ends every session issued before, everywhere.
The version lives where the log lives: a key beside the log in Redis, or a small file beside the
SQLite log (written atomically, read on each admin page view).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import threading

import redis

from webapp.logstore import StoreUnavailable
from webapp.logstore.redis import CONNECT_TIMEOUT, READ_TIMEOUT


class RedisSessionVersion:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.key = f"{prefix}:admin:session-version"
        self._client: redis.Redis | None = None
        self._pid: int | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(
                self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=READ_TIMEOUT
            )
            self._pid = os.getpid()
        return self._client

    def current(self) -> int:
        try:
            return int(self._redis().get(self.key) or 0)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def advance(self) -> int:
        try:
            return int(self._redis().incr(self.key))
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc


class FileSessionVersion:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = pathlib.Path(path)
        self._lock = threading.Lock()

    def current(self) -> int:
        try:
            return int(self.path.read_text() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"session version {self.path}: {exc}") from exc

    def advance(self) -> int:
        # Two workers logging out at the same moment may both write n + 1: either way every
        # session older than the logout ends, which is all the version is for.
        with self._lock:
            version = self.current() + 1
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(
                    "w", dir=self.path.parent, delete=False, prefix=self.path.name
                ) as handle:
                    handle.write(str(version))
                os.replace(handle.name, self.path)
            except OSError as exc:
                raise StoreUnavailable(f"session version {self.path}: {exc}") from exc
            return version


def create_session_version(config) -> RedisSessionVersion | FileSessionVersion:
    """Beside the prediction log: Redis when REDIS_URL is set, else a file by the SQLite log."""
    if config.get("REDIS_URL"):
        return RedisSessionVersion(config["REDIS_URL"], config.get("REDIS_KEY_PREFIX") or "lungrisk")
    return FileSessionVersion(str(config["LOG_DB_PATH"]) + ".admin-session")
