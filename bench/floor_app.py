"""The API's floor: the whole API app, with a view that only echoes the body it parsed.

Everything a deployment runs around a view is here (request ids, metrics, security and language
headers, CORS, sessions, error handling, and under the API's gunicorn.conf.py its worker and
access log), but no validation, scoring, answer or log entry. What a request costs here is what
any endpoint of this API costs before its own work: bench_predict.py compares it with the echo
to show how much of the gap to the echo is the framework a deployment keeps switched on.

The echo answers at POST /predict itself (in place of the prediction view), so the request takes
the same way through the worker as a prediction (webapp/gunicorn_worker.py serves predictions on
its event loop).
"""

from flask import jsonify, request

from webapp.api import create_app

app = create_app()


def echo():
    return jsonify(request.get_json())


app.view_functions["predict.predict_class"] = echo
