"""The UI's own settings, read from the environment (it shares no Config with the API)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .. import proxy


def _first(environ: Mapping[str, str], *names: str, default: str) -> str:
    for name in names:
        if environ.get(name):
            return environ[name]
    return default


@dataclass(frozen=True)
class UISettings:
    api_url: str = proxy.DEFAULT_API_URL
    host: str = "127.0.0.1"
    port: int = 7860
    #: Handlers that may call the API at once; the pooled proxy keeps as many connections.
    concurrency: int = 8
    #: Requests allowed to wait in Gradio's queue before new ones are turned away.
    queue_size: int = 64
    proxy_mode: str = "simple"
    timeout: tuple[float, float] = (proxy.DEFAULT_CONNECT_TIMEOUT, proxy.DEFAULT_READ_TIMEOUT)
    #: Records per /predict call when scoring a CSV: the API's MAX_BATCH_SIZE.
    batch_chunk: int = 1000
    #: Rows a single CSV upload may hold.
    batch_max_rows: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "UISettings":
        environ = os.environ if environ is None else environ
        return cls(
            api_url=(environ.get("API_URL") or proxy.DEFAULT_API_URL).rstrip("/"),
            host=_first(environ, "UI_HOST", "GRADIO_SERVER_NAME", default="127.0.0.1"),
            port=int(_first(environ, "UI_PORT", "GRADIO_SERVER_PORT", default="7860")),
            concurrency=int(environ.get("UI_CONCURRENCY") or 8),
            queue_size=int(environ.get("UI_QUEUE_SIZE") or 64),
            proxy_mode=proxy.default_mode(environ),
            timeout=proxy.default_timeout(environ),
            batch_chunk=int(environ.get("MAX_BATCH_SIZE") or 1000),
            batch_max_rows=int(environ.get("UI_BATCH_MAX_ROWS") or 1000),
        )

    def make_client(self) -> proxy.APIProxyClient:
        return proxy.APIProxyClient(self.api_url, timeout=self.timeout, mode=self.proxy_mode,
                                    pool_size=self.concurrency)
