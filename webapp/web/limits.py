"""Per-client rate limits, through Flask-Limiter: one Limiter per app, in ``app.extensions``.

The client is the peer address (the real client's behind trusted proxies: see TRUSTED_PROXIES).
Counts live in Redis when REDIS_URL is set, so every worker and instance shares them; in memory
otherwise (then each Gunicorn worker counts on its own, so a client gets up to that many times
the limit). When Redis is down the limits fall back to memory rather than failing requests.
A request over a limit is answered 429 in the error envelope, with Retry-After.
"""
from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from webapp.logstore.redis import CONNECT_TIMEOUT, READ_TIMEOUT


def init_app(app: Flask) -> None:
    config = app.config
    redis_url = config.get("REDIS_URL")
    limiter = Limiter(
        get_remote_address,
        storage_uri=redis_url or "memory://",
        storage_options={"socket_connect_timeout": CONNECT_TIMEOUT,
                         "socket_timeout": READ_TIMEOUT} if redis_url else {},
        key_prefix=f"{config.get('REDIS_KEY_PREFIX') or 'lungrisk'}:limits",
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        enabled=config.get("RATELIMIT_ENABLED", True),
    )
    limiter.init_app(app)
    app.extensions["rate_limiter"] = limiter


def rate_limiter(app: Flask) -> Limiter:
    """The app's Limiter: blueprints declare their limits on it (``limiter.limit(...)(bp)``)."""
    return app.extensions["rate_limiter"]
