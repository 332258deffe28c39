"""Admin login abuse: no open redirect through `next`, guesses rate-limited, logout ends sessions."""

from __future__ import annotations

import pytest

from tests.test_logs_page import TOKEN, csrf_of, log_in, page


@pytest.fixture
def guarded(make_app):
    return make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="test-secret").test_client()


# Each is read by some browser as another host, or cannot go in a Location header.
OFF_SITE = [
    "/\t/example.org",
    "//example.org",
    "/\\example.org",
    "\\\\example.org",
    "https://example.org/",
    "javascript:alert(1)",
    "/logs\r\nSet-Cookie: x=1",
    "/\n/example.org",
    " //example.org",
    "example.org",
    "/\u2215\u2215example.org",
    "http:/example.org",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_refuses_a_next_that_is_not_a_local_path(guarded, target):
    response = log_in(guarded, next=target)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert guarded.get("/admin/login", query_string={"next": target}).status_code == 400


def test_the_encoded_tab_trick_is_refused(guarded):
    # `next=/%09/example.org` is "/\t/example.org" once decoded: browsers drop the tab.
    assert guarded.get("/admin/login?next=/%09/example.org").status_code == 400


@pytest.mark.parametrize("target", ["/logs", "/logs?level=INFO&limit=5", "/monitoring"])
def test_login_follows_a_local_next(guarded, target):
    response = log_in(guarded, next=target)
    assert response.status_code == 302 and response.headers["Location"] == target


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_refused_logins_are_limited_per_client_and_answered_429_in_the_envelope(make_app, backend):
    settings = dict(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", LOGIN_RATE_LIMIT="3 per minute")
    client = make_app(backend, **settings).test_client()
    assert [log_in(client, token="guess").status_code for _ in range(3)] == [401, 401, 401]

    refused = log_in(client, token=TOKEN)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"]["code"] == "too_many_requests" and body["request_id"]
    assert "refused logins" in body["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 0

    other_client = client.application.test_client()
    form = other_client.get("/admin/login", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    allowed = other_client.post(
        "/admin/login",
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
        data={"token": TOKEN, "csrf_token": csrf_of(form)},
    )
    assert allowed.status_code == 302


def test_with_redis_the_limit_is_shared_by_every_instance(make_app, redis_server):
    settings = dict(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", LOGIN_RATE_LIMIT="2 per minute")
    first = make_app("redis", **settings)
    second = make_app("redis", REDIS_KEY_PREFIX=first.config["REDIS_KEY_PREFIX"], **settings)
    assert log_in(first.test_client(), token="guess").status_code == 401
    assert log_in(second.test_client(), token="guess").status_code == 401
    assert log_in(first.test_client(), token="guess").status_code == 429


def test_successful_logins_do_not_count_as_guesses(make_app):
    client = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", LOGIN_RATE_LIMIT="2 per minute").test_client()
    assert [log_in(client.application.test_client()).status_code for _ in range(5)] == [302] * 5


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_session_cookie_replayed_after_logout_is_refused(make_app, backend):
    app = make_app(backend, ADMIN_TOKEN=TOKEN, SECRET_KEY="k")
    client = app.test_client()
    log_in(client)
    stolen = client.get_cookie("lungrisk_admin").value
    other_browser = app.test_client()
    other_browser.set_cookie("lungrisk_admin", stolen)
    assert page(other_browser).status_code == 200

    client.post("/admin/logout", data={"csrf_token": csrf_of(page(client))})

    replay = app.test_client()
    replay.set_cookie("lungrisk_admin", stolen)
    assert page(replay).status_code == 302
    assert page(other_browser).status_code == 302
    assert log_in(client).status_code == 302 and page(client).status_code == 200


def test_logout_ends_sessions_on_every_worker_of_a_shared_log(make_app, tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    first = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", LOG_DB_PATH=path).test_client()
    second = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", LOG_DB_PATH=path).test_client()
    log_in(first)
    second.set_cookie("lungrisk_admin", first.get_cookie("lungrisk_admin").value)
    assert page(second).status_code == 200
    first.post("/admin/logout", data={"csrf_token": csrf_of(page(first))})
    assert page(second).status_code == 302
