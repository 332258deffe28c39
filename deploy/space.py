"""The Space's processes behind one public port: Redis, the API (Gunicorn), the UI (Gradio), nginx.

Run by deploy/start.sh, which sets the defaults; every port and path comes from the environment
so the same code runs in the image and on a developer machine or CI runner:

    PORT=7860 LISTEN_HOST=0.0.0.0    nginx, the only public port
    API_PORT=8000 UI_PORT=7861       Gunicorn and Gradio, loopback only
    REDIS_URL                        an external Redis; unset: a local redis-server on REDIS_PORT
    DATA_DIR, RUN_DIR                Redis's append-only file; pid files, nginx temp files
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import redis
import requests

from .supervise import Probe, Program, Supervisor

logger = logging.getLogger(__name__)

APP_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def http_ready(url: str) -> Probe:
    def probe() -> bool:
        try:
            return requests.get(url, timeout=1).ok
        except requests.RequestException:
            return False

    return probe


def redis_ready(port: int) -> Probe:
    def probe() -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    return probe


def render_nginx_conf(settings: Mapping[str, str]) -> str:
    text = TEMPLATE.read_text()
    for name, value in settings.items():
        text = text.replace("{{" + name + "}}", str(value))
    if "{{" in text:
        raise ValueError(f"nginx template has unfilled placeholders: {text[text.index('{{') :][:40]}")
    return text


def binary(name: str, override: str | None) -> str:
    found = override or shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise SystemExit(f"{name} is not installed")
    return found


def programs(environ: Mapping[str, str]) -> tuple[list[Program], Path]:
    port = environ.get("PORT", "7860")
    api_port = environ.get("API_PORT", "8000")
    ui_port = environ.get("UI_PORT", "7861")
    redis_port = int(environ.get("REDIS_PORT", "6379"))
    data_dir = Path(environ.get("DATA_DIR") or APP_DIR / "instance" / "space-data")
    run_dir = Path(environ.get("RUN_DIR") or data_dir / "run")
    api_url = f"http://127.0.0.1:{api_port}"
    redis_url = environ.get("REDIS_URL") or f"redis://127.0.0.1:{redis_port}/0"

    found = []
    if not environ.get("REDIS_URL"):
        (data_dir / "redis").mkdir(parents=True, exist_ok=True)
        found.append(
            Program(
                "redis",
                [
                    binary("redis-server", environ.get("REDIS_SERVER_BIN")),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--dir",
                    str(data_dir / "redis"),
                    "--daemonize",
                    "no",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "everysec",
                    "--save",
                    "",
                    "--loglevel",
                    "warning",
                ],
                ready=redis_ready(redis_port),
                port=redis_port,
                start_timeout=30,
            )
        )
    found.append(
        Program(
            "api",
            [sys.executable, "-m", "gunicorn", "--config", str(APP_DIR / "gunicorn.conf.py"), "wsgi:app"],
            # Only nginx reaches the API, so its one X-Forwarded-* hop is trusted (HTTPS cookies).
            # A fixed metrics folder: a restarted Gunicorn wipes its dead predecessor's files.
            env={
                "GUNICORN_BIND": f"127.0.0.1:{api_port}",
                "REDIS_URL": redis_url,
                "TRUSTED_PROXIES": environ.get("TRUSTED_PROXIES", "1"),
                "PROMETHEUS_MULTIPROC_DIR": environ.get("PROMETHEUS_MULTIPROC_DIR")
                or str(run_dir / "metrics"),
            },
            cwd=str(APP_DIR),
            ready=http_ready(api_url + "/health/ready"),
            port=int(api_port),
        )
    )
    found.append(
        Program(
            "ui",
            [sys.executable, "-m", "webapp.ui"],
            env={
                "API_URL": api_url,
                "UI_HOST": "127.0.0.1",
                "UI_PORT": ui_port,
                "GRADIO_ANALYTICS_ENABLED": "False",
            },
            cwd=str(APP_DIR),
            ready=http_ready(f"http://127.0.0.1:{ui_port}/"),
            port=int(ui_port),
            start_timeout=120,
        )
    )

    nginx_conf = run_dir / "nginx.conf"
    for name in NGINX_TEMP_DIRS:
        (run_dir / "nginx" / name).mkdir(parents=True, exist_ok=True)
    nginx_conf.write_text(
        render_nginx_conf(
            {
                "PORT": port,
                "LISTEN_HOST": environ.get("LISTEN_HOST", "0.0.0.0"),
                "API_PORT": api_port,
                "UI_PORT": ui_port,
                "RUN_DIR": run_dir,
                "NGINX_WORKERS": environ.get("NGINX_WORKERS", "auto"),
            }
        )
    )
    found.append(
        Program(
            "nginx",
            [
                binary("nginx", environ.get("NGINX_BIN")),
                "-e",
                "stderr",
                "-p",
                str(run_dir / "nginx"),
                "-c",
                str(nginx_conf),
            ],
            ready=http_ready(f"http://127.0.0.1:{port}/health/ready"),
            port=int(port),
            start_timeout=30,
            pipe_stdout=True,
        )
    )
    return found, run_dir


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s [supervisor] %(message)s"
    )
    found, run_dir = programs(os.environ)
    supervisor = Supervisor(
        found,
        run_dir,
        max_restarts=int(os.environ.get("SUPERVISOR_MAX_RESTARTS", "3")),
        window=float(os.environ.get("SUPERVISOR_WINDOW", "300")),
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
