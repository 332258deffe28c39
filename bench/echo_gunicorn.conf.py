"""The echo's Gunicorn settings: the yardstick as issue 16 defines it.

Gunicorn's own defaults (no access log, Gunicorn's logger and worker) with gthread, 2 workers x 4
threads, the fastest configuration found for the echo; not the API's gunicorn.conf.py, whose
access log alone costs the echo about a tenth of its throughput. With one shared listening socket
the keep-alive connections wrk opens at once often all land on one worker, leaving the other
idle, so each worker listens on its own (SO_REUSEPORT), as the API's do.
"""

import os

bind = os.environ["GUNICORN_BIND"]
worker_class = "gthread"
workers = 2
threads = 4
reuse_port = True
