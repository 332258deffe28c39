"""Slowloris-style clients for tests: loopback only, bounded in number and time."""

from __future__ import annotations

import socket
import threading
import time

import requests

from tests.helpers import patient


class SlowClients:
    """`count` connections that send a request head one byte every `interval` seconds, or with
    `slow_body`, a whole head and then the body one byte every `interval` seconds."""

    def __init__(self, port: int, count: int = 20, interval: float = 0.5, slow_body: bool = False) -> None:
        self.port, self.count, self.interval = port, count, interval
        self.slow_body = slow_body
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._trickle, daemon=True) for _ in range(count)]

    def _trickle(self) -> None:
        if self.slow_body:
            body = b'{"AGE": 62' + b" " * 1000 + b"}"
            sent = (
                b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            trickled = body
        else:
            sent, trickled = b"", b"POST /predict HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 1000
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(sent)
                for byte in trickled:
                    sock.sendall(bytes([byte]))
                    if self._stop.wait(self.interval):
                        return
        except OSError:
            pass  # closed by the server for being too slow: reconnecting would be the attack

    def __enter__(self) -> SlowClients:
        for thread in self._threads:
            thread.start()
        time.sleep(1.0)  # every connection open and trickling
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def predictions_during(url: str, seconds: float, path: str = "/predict") -> tuple[int, int]:
    """(answered 200 within 2 s, not) for back-to-back predictions over `seconds`."""
    answered = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{url}{path}", json=patient(), timeout=2)
            answered += response.status_code == 200
            failed += response.status_code != 200
        except requests.RequestException:
            failed += 1
    return answered, failed
