"""The benchmark's yardstick: a trivial Flask JSON echo (served with bench/echo_gunicorn.conf.py)."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    return jsonify(request.get_json())
