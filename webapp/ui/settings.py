"""The UI's view of the settings (webapp.settings holds the defaults and reads the environment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webapp import proxy
from webapp.settings import DEFAULTS, Settings


@dataclass(frozen=True)
class UISettings:
    api_url: str = DEFAULTS.api_url
    host: str = DEFAULTS.ui_host
    port: int = DEFAULTS.ui_port
    #: Handlers that may call the API at once; the pooled proxy keeps as many connections.
    concurrency: int = DEFAULTS.ui_concurrency
    #: Requests allowed to wait in Gradio's queue before new ones are turned away.
    queue_size: int = DEFAULTS.ui_queue_size
    proxy_mode: str = DEFAULTS.proxy_mode
    timeout: tuple[float, float] = DEFAULTS.proxy_timeout
    #: Records per /predict call when scoring a CSV: the API's MAX_BATCH_SIZE.
    batch_chunk: int = DEFAULTS.max_batch_size
    #: Rows a single CSV upload may hold.
    batch_max_rows: int = DEFAULTS.ui_batch_max_rows
    #: Peers whose X-Forwarded-For names the visitor (loopback: nginx on the Space); the API
    #: believes the same addresses (RATE_LIMIT_EXEMPT) when the UI forwards the visitor's.
    forwarders: tuple[str, ...] = DEFAULTS.rate_limit_exempt

    @classmethod
    def from_settings(cls, settings: Settings) -> UISettings:
        return cls(
            api_url=settings.api_url.rstrip("/"),
            host=settings.ui_host,
            port=settings.ui_port,
            concurrency=settings.ui_concurrency,
            queue_size=settings.ui_queue_size,
            proxy_mode=settings.proxy_mode,
            timeout=settings.proxy_timeout,
            batch_chunk=settings.max_batch_size,
            batch_max_rows=settings.ui_batch_max_rows,
            forwarders=settings.rate_limit_exempt,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UISettings:
        return cls.from_settings(Settings.from_env(environ))

    def make_client(self) -> proxy.APIProxyClient:
        return proxy.APIProxyClient(
            self.api_url, timeout=self.timeout, mode=self.proxy_mode, pool_size=self.concurrency
        )
