"""Per-client rate limits, through Flask-Limiter: one Limiter per app, in ``app.extensions``.

The client is the peer address (the real client's behind trusted proxies: see TRUSTED_PROXIES),
or, when the peer is one of the RATE_LIMIT_EXEMPT addresses (loopback: the Gradio UI, nginx on
the same host), the address it names last in X-Forwarded-For: the UI's proxy forwards each
visitor's address there, so visitors of the UI are limited one by one. A header from any other
peer is ignored, so a client on the network cannot choose its own key.
Counts live in Redis when REDIS_URL is set, so every worker and instance shares them; in memory
otherwise (then each Gunicorn worker counts on its own, so a client gets up to that many times
the limit). When Redis is down the limits fall back to memory rather than failing requests.
A request over a limit is answered 429 in the error envelope, with Retry-After.

Flask-Limiter checks its limits in app-wide request hooks, which cost a quarter of a millisecond
on every request even where no limit applies (it resolves the endpoint's, blueprint's and default
limits each time). Its only limit is the login's (`limit_blueprint`), and the predictions spend
their own allowance (`spend`), so its hooks run for the limited blueprints only.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from limits import parse_many

from webapp.logstore.redis import CONNECT_TIMEOUT, READ_TIMEOUT
from webapp.web.errors import APIError

logger = logging.getLogger(__name__)

_ENVIRON_KEY = "lungrisk.client_address"


def init_app(app: Flask) -> None:
    config = app.config
    redis_url = config.get("REDIS_URL")
    limiter = Limiter(
        client_address,
        storage_uri=redis_url or "memory://",
        storage_options={"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": READ_TIMEOUT}
        if redis_url
        else {},
        key_prefix=f"{config.get('REDIS_KEY_PREFIX') or 'lungrisk'}:limits",
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        enabled=config.get("RATELIMIT_ENABLED", True),
    )
    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    before = [list(funcs.get(None, ())) for funcs in hooks]
    limiter.init_app(app)
    # Taken out of the app-wide hooks; limit_blueprint puts them back for its blueprint alone.
    added = []
    for funcs, kept in zip(hooks, before, strict=True):
        added.append([hook for hook in funcs.get(None, ()) if hook not in kept])
        funcs[None] = kept
    app.extensions["rate_limiter"] = limiter
    app.extensions["rate_limiter_hooks"] = added


def client_address() -> str:
    """The address limits count: the peer's, or the one an exempt peer forwards for."""
    return _address_in(request.environ, current_app.config)


def _address_in(environ, config) -> str:
    # Found once a request and kept on it (a prediction spends two allowances), from the environ:
    # request.headers.get raises and catches a KeyError when the header is absent (most calls).
    # The two calls of a prediction: 7.5 -> 2.9 us.
    client = environ.get(_ENVIRON_KEY)
    if client is None:
        client = environ[_ENVIRON_KEY] = _client_address(environ, config)
    return client


def _client_address(environ, config) -> str:
    peer = environ.get("REMOTE_ADDR") or "127.0.0.1"  # request.remote_addr (ProxyFix rewrites it)
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded and peer in config.get("RATE_LIMIT_EXEMPT", ()):
        visitor = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(visitor))
        except ValueError:
            logger.warning("Ignored X-Forwarded-For %r from %s: not an address", visitor[:64], peer)
    return peer


def rate_limiter(app: Flask) -> Limiter:
    """The app's Limiter (its storage also counts what ``spend`` takes)."""
    return app.extensions["rate_limiter"]


def limit_blueprint(app: Flask, blueprint: Blueprint, limit_value: str, **options) -> None:
    """Limit every request to ``blueprint`` (Flask-Limiter's ``limit(...)(blueprint)``, with the
    same options), and run Flask-Limiter's request hooks for that blueprint."""
    rate_limiter(app).limit(limit_value, **options)(blueprint)
    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    for funcs, added in zip(hooks, app.extensions["rate_limiter_hooks"], strict=True):
        scoped = funcs.setdefault(blueprint.name, [])
        scoped.extend(hook for hook in added if hook not in scoped)


@functools.lru_cache(maxsize=32)
def _parsed(limits: str) -> tuple:
    """The limits of a setting's text, parsed once (a setting never changes while serving)."""
    return tuple(parse_many(limits))


def spend(app: Flask, environ, setting: str, cost: int, what: str) -> None:
    """Take ``cost`` from this client's allowance under the limits in ``config[setting]``;
    ``app`` and ``environ`` are the request's app and WSGI environ.

    Raises a 429 APIError (with Retry-After) when the allowance is spent. Addresses listed in
    RATE_LIMIT_EXEMPT (loopback by default: the UI's own calls, local tools, the benchmark) are
    not counted. A limits backend that fails lets the request through: limits protect the log,
    they must not take predictions down with Redis.
    """
    config = app.config
    client = _address_in(environ, config)
    if not config.get(setting) or client in config.get("RATE_LIMIT_EXEMPT", ()):
        return
    limiter = rate_limiter(app)
    if not limiter.enabled:
        return
    prefix = config.get("REDIS_KEY_PREFIX") or "lungrisk"
    for item in _parsed(config[setting]):
        try:
            allowed = limiter.limiter.hit(item, prefix, setting, client, cost=cost)
            if allowed:
                continue
            reset = limiter.limiter.get_window_stats(item, prefix, setting, client).reset_time
        except Exception as exc:  # Redis down or refusing: count nothing rather than fail
            logger.warning("Rate limit %s not checked: %s", setting, exc)
            return
        retry_after = max(1, int(reset - time.time() + 0.999))
        raise APIError(
            429,
            f"Too many {what} from this address (limit {item}): try again in {retry_after} s.",
            {"limit": str(item), "retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
