"""Which requests the worker's event loop serves itself, waits for, or hands to its thread pool
(webapp/gunicorn_worker.py `_loop_action`): only a small prediction whose whole request is in is
served on the loop; anything unusual goes to the pool and Gunicorn's own parser."""

from __future__ import annotations

import pytest

from webapp.gunicorn_worker import HEAD_LIMIT, LOOP_BODY_LIMIT, SERVE, WAIT, _loop_action

BODY = b'{"AGE": 62, "GENDER": "M"}'


def request(
    target: bytes = b"/predict", method: bytes = b"POST", fields: bytes | None = None, body: bytes = BODY
) -> bytes:
    if fields is None:
        fields = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return method + b" " + target + b" HTTP/1.1\r\nHost: api\r\n" + fields + b"\r\n" + body


@pytest.mark.parametrize(
    "received, action",
    [
        (request(), SERVE),
        (request(b"/predict_proba"), SERVE),
        (request(b"/api/predict"), SERVE),
        (request(b"/api/predict_proba"), SERVE),
        (request() + request(), SERVE),  # pipelined: the first is whole
        (request(fields=b"content-length: %d\r\n" % len(BODY)), SERVE),  # any case
        (request(fields=b"Content-Length:  %d \r\n" % len(BODY)), SERVE),  # spaces around
        (request()[:-1], WAIT),  # the body's last byte not in yet
        (request(body=b"")[: -len(b"\r\n")], WAIT),  # the head not ended
        (b"POST /predict HTTP/1.1\r\nHost", WAIT),
        (b"GET /logs HTTP/1.1\r\nHo", WAIT),  # any head is collected before a thread takes it
        (b"", WAIT),
        (request(method=b"GET", body=b""), None),
        (request(b"/logs"), None),
        (request(b"/predict?lang=fr"), None),
        (request(b"/predictions"), None),
        (request(fields=b"Transfer-Encoding: chunked\r\n", body=b"5\r\nhello\r\n0\r\n\r\n"), None),
        (request(fields=b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(BODY)), None),
        (request(fields=b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(BODY), len(BODY))), None),
        (request(fields=b"Content-Length: +%d\r\n" % len(BODY)), None),
        (request(fields=b"Content-Type: application/json\r\n"), None),  # no length: the parser decides
        (request(body=b" " * (LOOP_BODY_LIMIT + 1)), None),  # a large body: the pool
        (request(body=b" " * LOOP_BODY_LIMIT), SERVE),
        (b"POST /predict HTTP/1.1\r\nX-Long: " + b"a" * HEAD_LIMIT, None),  # the parser refuses it
    ],
)
def test_the_loop_serves_only_whole_small_predictions(received, action):
    assert _loop_action(received) == action
    assert _loop_action(bytearray(received)) == action
