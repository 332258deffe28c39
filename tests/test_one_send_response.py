"""The head-first worker's response sends the same bytes as Gunicorn's, its head with the body."""

from __future__ import annotations

import socket

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from webapp.gunicorn_worker import OneSendResponse


class CountingSocket:
    """A real socket (one end of a pair) that counts its sendall calls."""

    def __init__(self, sock: socket.socket):
        self.sock, self.sends = sock, 0

    def sendall(self, data):
        self.sends += 1
        return self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def _serve(response_class, request: bytes, status: str, headers: list, chunks: list[bytes]):
    cfg = Config()
    req = next(iter(RequestParser(cfg, [request], ("127.0.0.1", 1))))
    ours, theirs = socket.socketpair()
    counting = CountingSocket(ours)
    resp = response_class(req, counting, cfg)
    resp.start_response(status, headers)
    for chunk in chunks:
        resp.write(chunk)
    resp.close()
    ours.close()
    received = b""
    while data := theirs.recv(65536):
        received += data
    theirs.close()
    return received, counting.sends


@pytest.mark.parametrize(
    ("request_bytes", "status", "headers", "chunks", "sends"),
    [
        # A JSON answer: one send instead of Gunicorn's two.
        (b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK", [("Content-Length", "7")], [b'{"a":1}'], 1),
        # Body in two pieces: the head goes with the first.
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK", [("Content-Length", "6")], [b"abc", b"def"], 2),
        # HEAD: no body bytes, the head is sent at close.
        (b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK", [("Content-Length", "6")], [b""], 1),
        # No body at all (204).
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "204 No Content", [], [], 1),
        # No length: chunked, Gunicorn's own sends.
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK", [], [b"abc"], 3),
    ],
)
def test_same_bytes_fewer_sends(request_bytes, status, headers, chunks, sends):
    theirs, their_sends = _serve(wsgi.Response, request_bytes, status, headers, chunks)
    ours, our_sends = _serve(OneSendResponse, request_bytes, status, headers, chunks)
    # The Date header may tick between the two; everything else is byte for byte the same.
    strip = lambda raw: b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Date: "))  # noqa: E731
    assert strip(ours) == strip(theirs)
    assert our_sends == sends
    assert our_sends <= their_sends
