"""The benchmark's yardstick: a trivial Flask JSON echo under the same Gunicorn settings."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    return jsonify(request.get_json())
