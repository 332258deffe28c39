"""A managed Redis: `rediss://` with a password and certificate verification, against a local
redis-server started with TLS and `requirepass` (a throwaway CA and certificate made by openssl)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from tests.helpers import patient, require_binary
from tests.redis_server import free_port, redis_server_binary
from webapp.api import create_app
from webapp.logstore import LogQuery

PASSWORD = "managed-redis-secret"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> None:
    """ca.pem (a CA) and server.pem/server.key (127.0.0.1, signed by that CA)."""
    require_binary("openssl")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=directory,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=directory,
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
        cwd=directory,
    )


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls-redis")
    make_certificates(directory)
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.pem",
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    ca = str(directory / "ca.pem")
    url = f"rediss://:{quote(PASSWORD)}@127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url, ssl_ca_certs=ca, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start with TLS")
            time.sleep(0.1)
    yield {"url": url, "ca": ca, "port": port, "directory": directory}
    process.terminate()
    process.wait(timeout=10)


def verified_url(tls_redis) -> str:
    return f"{tls_redis['url']}?ssl_cert_reqs=required&ssl_ca_certs={quote(tls_redis['ca'])}"


def test_the_api_logs_to_a_tls_redis_with_a_password_and_a_verified_certificate(make_app, tls_redis):
    app = make_app(
        "sqlite",
        REDIS_URL=verified_url(tls_redis),
        REDIS_KEY_PREFIX="managed",
        ADMIN_TOKEN="t",
        SECRET_KEY="k",
        LOGIN_RATE_LIMIT="1 per minute",
    )
    client = app.test_client()
    response = client.post("/predict", json=patient(), headers={"X-Request-ID": "over-tls"})
    assert response.status_code == 200
    log = app.extensions["prediction_log"]
    assert log.kind == "redis"
    assert [entry["request_id"] for entry in log.iter_entries(LogQuery())] == ["over-tls"]
    health = client.get("/health").get_json()
    assert health["redis_connected"] is True and health["status"] == "healthy", health
    # The login limit and the session version live in the same Redis, over TLS too.
    assert client.post("/admin/login", data={"token": "x"}).status_code in (400, 401)


@pytest.fixture
def refused_app(tmp_path):
    """An app whose Redis refuses it: closed without the usual clean-up, which needs Redis."""
    apps = []

    def build(url: str):
        apps.append(
            create_app(
                {
                    "TESTING": True,
                    "REDIS_URL": url,
                    "REDIS_KEY_PREFIX": "refused",
                    "LOG_DB_PATH": str(tmp_path / "unused.sqlite3"),
                }
            )
        )
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["prediction_log"].close(timeout=0.1)


def test_a_certificate_from_another_ca_is_refused(refused_app, tls_redis, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    make_certificates(other)
    url = f"{tls_redis['url']}?ssl_cert_reqs=required&ssl_ca_certs={quote(str(other / 'ca.pem'))}"
    app = refused_app(url)
    app.test_client().post("/predict", json=patient())
    health = app.test_client().get("/health").get_json()
    assert health["log_store_healthy"] is False
    assert "certificate verify failed" in " ".join(health["reasons"]).lower()


def test_a_wrong_password_is_reported(refused_app, tls_redis):
    app = refused_app(verified_url(tls_redis).replace(quote(PASSWORD), "wrong"))
    health = app.test_client().get("/health").get_json()
    assert health["log_store_healthy"] is False
    assert any("pass" in reason.lower() or "auth" in reason.lower() for reason in health["reasons"])
