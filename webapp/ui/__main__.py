"""`python -m webapp.ui`: serve the Gradio UI (settings from the environment and `.env`)."""

from __future__ import annotations

import logging

from dotenv import load_dotenv
from starlette.middleware import Middleware

from webapp.settings import PROJECT_ROOT, Settings

from .app import CSS_PATH, I18N, THEME, build_demo
from .language import PageLanguage
from .settings import UISettings

logger = logging.getLogger("webapp.ui")


def main() -> None:
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    environment = Settings.from_env()
    logging.basicConfig(
        level=environment.log_level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own startup probes
    settings = UISettings.from_settings(environment)
    demo = build_demo(settings)
    logger.info(
        "Gradio UI listening on http://%s:%d (API at %s, proxy %s, concurrency %d)",
        settings.host,
        settings.port,
        settings.api_url,
        settings.proxy_mode,
        settings.concurrency,
    )
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        theme=THEME,
        css_paths=[CSS_PATH],
        footer_links=["api"],
        i18n=I18N,
        app_kwargs={"middleware": [Middleware(PageLanguage)]},
        show_error=False,
        max_threads=max(40, settings.concurrency * 2),
    )


if __name__ == "__main__":
    main()
