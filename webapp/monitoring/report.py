"""Write the input drift report as one standalone HTML file (inline CSS and SVG, no external assets).

    python -m webapp.monitoring.report --out drift-report.html [--last 1000] [--since ISO] [--until ISO]
    python -m webapp.monitoring.report --api-url https://my-space.hf.space --out drift-report.html

By default it reads the prediction log this machine's service writes (LOG_DB_PATH or
REDIS_URL, as in the service's settings). With --api-url it asks a running service for
/api/monitoring/drift instead, sending ADMIN_TOKEN (or --token) as the Bearer token.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from jinja2 import Environment, FileSystemLoader, select_autoescape

from webapp import i18n
from webapp.logstore import LogQuery, create_store
from webapp.monitoring import charts
from webapp.monitoring.drift import DEFAULT_LAST, drift_report, format_p
from webapp.monitoring.reference import load_reference
from webapp.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

STYLESHEETS = (
    PROJECT_ROOT / "static" / "css" / "app.css",
    PROJECT_ROOT / "static" / "css" / "monitoring.css",
)


def render(report: dict[str, Any], source: str) -> str:
    """The standalone HTML for a drift report (webapp.monitoring.drift.drift_report's output)."""
    environment = Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates"), autoescape=select_autoescape(["html"])
    )
    css = "\n".join(path.read_text() for path in STYLESHEETS if path.is_file())
    requested = report["window"].get("requested") or {}
    window_text = ", ".join(f"{key} {value}" for key, value in requested.items() if value) or "all entries"
    # The drift macros are shared with the admin page, which is translated; the file is English.
    environment.globals["_"] = lambda key, **params: i18n.text(i18n.DEFAULT, key, **params)
    return environment.get_template("monitoring/report.html").render(
        report=report,
        charts=charts.charts(report),
        format_p=format_p,
        css=css,
        source=source,
        window_text=window_text,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def report_from_store(settings: Settings, last: int, since: str | None, until: str | None) -> dict[str, Any]:
    store = create_store(settings)
    try:
        entries = store.drift_window(LogQuery(level="INFO", since=since, until=until), last)
    finally:
        store.close()
    report = drift_report(load_reference(settings.model_dir), entries)
    report["window"]["requested"] = {"last": last, "since": since, "until": until}
    return report


def report_from_api(
    api_url: str, token: str | None, last: int, since: str | None, until: str | None, timeout: float = 30.0
) -> dict[str, Any]:
    import requests

    params = {key: value for key, value in (("last", last), ("since", since), ("until", until)) if value}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(
        api_url.rstrip("/") + "/api/monitoring/drift", params=params, headers=headers, timeout=timeout
    )
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    if response.status_code != 200:
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        raise RuntimeError(f"{api_url} answered {response.status_code}: {message or response.text[:200]}")
    return body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    parser.add_argument(
        "--last",
        type=int,
        default=DEFAULT_LAST,
        help=f"newest logged predictions to compare ({DEFAULT_LAST})",
    )
    parser.add_argument("--since", help="only entries at or after this time (ISO 8601, UTC)")
    parser.add_argument("--until", help="only entries at or before this time (ISO 8601, UTC)")
    parser.add_argument("--api-url", help="read the report from a running service instead of the local log")
    parser.add_argument("--token", help="admin token (default: ADMIN_TOKEN)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        if args.api_url:
            token = args.token or settings.admin_token
            report = report_from_api(args.api_url, token, args.last, args.since, args.until)
            source = args.api_url
        else:
            report = report_from_store(settings, args.last, args.since, args.until)
            source = f"the {'Redis' if settings.redis_url else 'SQLite'} prediction log"
    except (RuntimeError, ValueError, OSError) as error:  # store, reference, network: say which
        logger.error("Could not build the report: %s", error)
        return 1
    args.out.write_text(render(report, source))
    logger.info(
        "Wrote %s: %s over %d entries%s",
        args.out,
        report["status"],
        report["window"]["entries"],
        f"; drifted: {', '.join(report['drifted'])}" if report["drifted"] else "",
    )
    return 0


if __name__ == "__main__":
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
