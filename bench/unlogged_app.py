"""The API with its prediction log's writes skipped: what a batch costs before its log write.

The whole API app (wsgi:app's), run under the API's own gunicorn.conf.py, validating, scoring and
answering as shipped and building every log entry, but handing the entries to nobody: no log
writer thread runs. bench_predict.py sends it the same batches in the same run, so that a batch's
worker CPU through Gunicorn splits into the request's and the log write's (the difference).
"""

from webapp.api import create_app

app = create_app()
app.extensions["prediction_log"].record = lambda entries, **options: None
