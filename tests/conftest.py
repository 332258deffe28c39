"""Apps built from the factory, with a real log backend each (SQLite file or real Redis)."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import require_binary
from tests.redis_server import redis_server  # noqa: F401  (session fixture)
from webapp.api import create_app

# Headless Chromium on a machine with no network: no sandbox as root, no background services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def make_app(tmp_path, request):
    """Build apps from the factory; each gets its own SQLite file or Redis key prefix."""
    built = []

    def build(backend: str = "sqlite", **overrides):
        config = {
            "TESTING": True,
            "LOG_DB_PATH": str(tmp_path / f"log-{len(built)}.sqlite3"),
        }
        if backend == "redis":
            server = request.getfixturevalue("redis_server")
            config["REDIS_URL"] = server.url
            config["REDIS_KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
        config.update(overrides)
        app = create_app(config)
        built.append(app)
        return app

    yield build
    for app in built:
        log = app.extensions["prediction_log"]
        if log.kind == "redis":
            log.clear()
        log.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, shared by the browser tests."""
    chromium = require_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
