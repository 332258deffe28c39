"""Gunicorn settings, read from the environment (see the README's settings table).

Used through the top-level gunicorn.conf.py, or as `gunicorn --config python:webapp.gunicorn_config`.

The app is loaded in the master before forking (the model is read once and shared
copy-on-write); each worker opens its own log-store connections after the fork.
"""

import gc
import glob
import logging
import os
import shutil
import socket
import sys
import tempfile

from webapp import gunicorn_errors
from webapp.gunicorn_worker import GC_THRESHOLDS

# Prometheus multiprocess mode: every worker writes its metrics to files in this folder and a
# scrape of /metrics sums them. prometheus_client reads the variable when it is first imported,
# which is after this file runs (the app is loaded next). Without the variable each worker
# would report only its own share of the traffic.
_METRICS_PREFIX = "lungrisk-metrics-"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_METRICS_PREFIX)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

bind = (
    os.environ.get("GUNICORN_BIND")
    or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread, but a request head is read in the event loop, not by a blocked thread: slow clients
# (slowloris) hold no thread (webapp/gunicorn_worker.py). GUNICORN_WORKER_CLASS=gthread is plain.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "webapp.gunicorn_worker.HeadFirstThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Stopping must end inside the supervisor's grace period (honcho, behind `make run`, kills after
# 5 s; Docker after 10 s): requests take milliseconds, so 3 s is only ever used by a stuck or
# slow client, and what each worker buffered is written before it exits (worker_exit).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "3"))
#: Seconds a stopping worker gives its prediction log to write what is buffered.
LOG_CLOSE_TIMEOUT = 1.0
preload_app = True
# Requests Gunicorn refuses itself (before the app): a request line over 4094 bytes is a 414,
# over 100 header fields or a field over 8190 bytes a 431, a malformed request a 400. They are
# answered in the API's JSON error envelope (gunicorn_errors), not Gunicorn's HTML page.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
gunicorn_errors.install()
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new connections
# over the workers. With one shared socket, keep-alive clients that connect at once tend to
# pile onto whichever worker wins the accept race and leave the other idle.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") not in ("0", "false", "")
# Gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
# several instances on one machine (tests, scale-out) would fight over; nothing here uses it.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# Gunicorn's logger, but an access-log line builds only the atoms the format above names.
logger_class = "webapp.gunicorn_access.AccessLogger"


def pre_fork(server, worker):
    """Move everything the master loaded (the app, the model, scikit-learn) out of the garbage
    collector's reach: a collection in a worker would otherwise write to every one of those
    objects' pages and so copy them out of the memory the workers share with the master. The
    worker inherits GC_THRESHOLDS."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def worker_exit(server, worker):
    """Write this worker's buffered log entries before it goes, then go at once.

    A worker that stops normally skips the interpreter's teardown (1 to 2 s of freeing NumPy and
    scikit-learn objects on a busy machine, which pushed Ctrl-C on `make run` past honcho's 5 s
    and got the API killed); its exit status is kept for any other way out.
    """
    log = getattr(worker.wsgi, "extensions", {}).get("prediction_log")
    if log is not None:
        log.close(timeout=LOG_CLOSE_TIMEOUT)
    leaving = sys.exc_info()[1]
    if isinstance(leaving, SystemExit) and leaving.code in (0, None):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _refuse_a_taken_port(server):
    """With SO_REUSEPORT a second server on the same port would not fail to bind: it would
    silently share the port (and the traffic) with the first. Refuse to start instead."""
    if not reuse_port:
        return
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket
        host, port = address[0] or "127.0.0.1", address[1]
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
        except OSError:
            continue
        raise SystemExit(f"Cannot listen on {host}:{port}: the address is already in use.")


def on_starting(server):
    """Refuse a port that is taken; wipe metric values an earlier run left in the folder."""
    _refuse_a_taken_port(server)
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def when_ready(server):
    """Say where the API listens: with reuse_port the arbiter holds no socket to name."""
    server.log.info("API listening on %s", ", ".join(f"http://{address}" for address in server.cfg.bind))


def child_exit(server, worker):
    """Drop a dead worker's live gauges (pending log entries, log-store health) from the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder if this file created it; a clean stop then exits at once."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.path.basename(directory).startswith(_METRICS_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)
    # Arbiter.halt(reason, exit_status) calls this hook, then sys.exit(exit_status). The master
    # holds the preloaded app, whose teardown alone took 3 s on a busy machine: with the workers
    # gone and their entries written there is nothing left to do, so a clean stop skips it.
    caller = sys._getframe(1).f_locals
    if caller.get("exit_status") == 0 and caller.get("reason") is None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
