"""What each UI event does: call the API through the proxy, format the answer. No layout here."""
from __future__ import annotations

import json
import logging
import threading
from typing import Any

import gradio as gr

from .. import features
from ..proxy import APIProxyClient
from . import batch, formatting
from .settings import UISettings

logger = logging.getLogger(__name__)

CONSOLE_ENDPOINTS = {
    "GET / (info)": ("GET", "/"),
    "GET /health": ("GET", "/health"),
    "GET /metadata": ("GET", "/metadata"),
    "POST /predict": ("POST", "/predict"),
    "POST /predict_proba": ("POST", "/predict_proba"),
    "GET /logs": ("GET", "/logs"),
    "DELETE /logs (clear)": ("DELETE", "/logs"),
    "connection check": ("GET", "/health/live"),
}


def record_from_form(age: float, gender: str, answers: dict[str, bool]) -> dict[str, int]:
    record = {features.AGE: int(age), features.GENDER: 1 if gender == "Male" else 0}
    record.update({name: int(bool(answers.get(name))) for name in features.BINARY_FEATURES})
    return record


class Handlers:
    """The UI's event handlers around one shared proxy client."""

    def __init__(self, client: APIProxyClient, settings: UISettings):
        self.client = client
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any] | None:
        """The model metadata, fetched once it is available (it changes only with a redeploy)."""
        with self._lock:
            if self._metadata is None:
                body, status = self.client.get_metadata()
                if status == 200:
                    self._metadata = body
            return self._metadata

    # -- prediction tab --------------------------------------------------------------------

    def predict(self, age: float, gender: str, *checks: bool) -> str:
        record = record_from_form(age, gender, dict(zip(features.BINARY_FEATURES, checks, strict=True)))
        body, status = self.client.post_predict(record)
        if status != 200:
            return formatting.error_card(body, status)
        return formatting.result_card(body, self.metadata())

    def bands(self) -> str:
        return formatting.bands_html(self.metadata())

    # -- batch tab -------------------------------------------------------------------------

    def score_csv(self, path: str | None) -> tuple[str, dict[str, Any], str | None]:
        empty = {"headers": batch.TABLE_COLUMNS, "data": []}
        if not path:
            return "Choose a CSV file first.", empty, None
        try:
            result = self._score_file(path)
        except batch.BatchFileError as exc:
            return f"**The file could not be used.** {exc}", empty, None
        return self._batch_outputs(result)

    def _score_file(self, path: str) -> batch.BatchResult:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            return batch.run(self.client, handle.read(), self.settings.batch_chunk, self.settings.batch_max_rows)

    def _batch_outputs(self, result: batch.BatchResult) -> tuple[str, dict[str, Any], str | None]:
        lines = [f"**{len(result.rows)} rows scored**, {len(result.errors)} rows with problems."]
        lines += result.notes
        if result.api_error is not None:
            lines.append("**Scoring stopped:** " + formatting.error_message(*result.api_error))
        if result.errors:
            lines.append("Rows not scored:")
            lines += [f"- line {line}: {reason}" for line, reason in result.errors[:200]]
            if len(result.errors) > 200:
                lines.append(f"- ... and {len(result.errors) - 200} more.")
        table = {"headers": batch.TABLE_COLUMNS,
                 "data": [[row[column] for column in batch.TABLE_COLUMNS] for row in result.rows]}
        download = batch.write_csv(result.rows) if result.rows else None
        return "\n".join(lines), table, download

    # -- admin tab -------------------------------------------------------------------------

    def logs(self, token: str, limit: float, offset: float) -> tuple[dict[str, Any], str, int]:
        limit, offset = int(limit or 20), max(0, int(offset or 0))
        body, status = self.client.get_logs(limit=limit, offset=offset, token=token or None)
        if status != 200:
            return ({"headers": formatting.LOG_COLUMNS, "data": []},
                    formatting.error_message(body, status), offset)
        table = {"headers": formatting.LOG_COLUMNS, "data": formatting.log_rows(body["logs"])}
        return table, formatting.page_caption(body), offset

    def next_page(self, token: str, limit: float, offset: float):
        return self.logs(token, limit, int(offset or 0) + int(limit or 20))

    def previous_page(self, token: str, limit: float, offset: float):
        return self.logs(token, limit, max(0, int(offset or 0) - int(limit or 20)))

    def clear(self, token: str) -> str:
        body, status = self.client.delete_logs(token=token or None)
        if status != 200:
            return formatting.error_message(body, status)
        return f"Prediction log cleared: {body.get('deleted', 0)} entries deleted."

    def status(self) -> str:
        return formatting.status_markdown(self.client.get_health(), self.client.get_metadata(),
                                          self.client.api_url)

    # -- developer console -----------------------------------------------------------------

    def console(self, endpoint: str, body_text: str, limit: float, offset: float,
                token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        method, path = CONSOLE_ENDPOINTS[endpoint]
        sent: dict[str, Any] = {"method": method, "url": self.client.api_url + path}
        payload = None
        if method == "POST":
            try:
                payload = json.loads(body_text or "null")
            except ValueError as exc:
                return sent, {"status": None, "body": f"The request body is not valid JSON: {exc}"}
            sent["json"] = payload
        if path == "/logs" and method == "GET":
            sent["params"] = {"limit": int(limit or 20), "offset": int(offset or 0)}
        if path == "/logs":
            sent["headers"] = {"Authorization": "Bearer ***" if token else "(none)"}
        if endpoint == "connection check":
            body, status = self.client.check_connection()
        elif method == "POST":
            body, status = self.client.request(method, path, json=payload)
        elif path == "/logs" and method == "GET":
            body, status = self.client.get_logs(token=token or None, **sent["params"])
        elif path == "/logs":
            body, status = self.client.delete_logs(token=token or None)
        else:
            body, status = self.client.request(method, path)
        return sent, {"status": status, "body": body}

    # -- program access (gradio_client) ----------------------------------------------------
    # A failure raises gr.Error, which gradio_client raises in the calling program: an error
    # returned as an ordinary value would be counted as a success.

    def health_api(self) -> Any:
        # 503 is an answer here, not a failure: the body says `unhealthy` and why.
        body, status = self.client.get_health()
        return body if _is_health(body) else _raise_api_error(body, status)

    def predict_api(self, record: Any) -> Any:
        return _success(self.client.post_predict(record))

    def predict_proba_api(self, record: Any) -> Any:
        return _success(self.client.post_predict_proba(record))

    def logs_api(self, limit: float = 50, offset: float = 0, admin_token: str = "") -> Any:
        return _success(self.client.get_logs(limit=int(limit or 50), offset=int(offset or 0),
                                             token=admin_token or None))

    def clear_logs_api(self, admin_token: str = "") -> Any:
        return _success(self.client.delete_logs(token=admin_token or None))

    def score_csv_api(self, path: str | None) -> tuple[str, dict[str, Any], str | None]:
        """The batch tab for programs: a file that cannot be used or an API failure raises."""
        if not path:
            raise gr.Error("Send a CSV file.", print_exception=False)
        try:
            result = self._score_file(path)
        except batch.BatchFileError as exc:
            raise gr.Error(f"The file could not be used: {exc}", print_exception=False) from exc
        if result.api_error is not None:
            _raise_api_error(*result.api_error)
        return self._batch_outputs(result)


def api_error_text(body: Any, status: int) -> str:
    """The API's own message, code, status and request id, in one line for a program."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"The API answered with status {status}: {str(body)[:200]}"
    text = f"{error.get('message') or 'The API reported an error.'} (status {status}"
    text += f", {error['code']}" if error.get("code") else ""
    text += f", request {body['request_id']})" if body.get("request_id") else ")"
    if error.get("details"):
        text += " Details: " + json.dumps(error["details"], default=str)
    return text


def _raise_api_error(body: Any, status: int):
    raise gr.Error(api_error_text(body, status), title=f"API error {status}", print_exception=False)


def _success(result: tuple[Any, int]) -> Any:
    body, status = result
    if not 200 <= status < 300:
        _raise_api_error(body, status)
    return body


def _is_health(body: Any) -> bool:
    return isinstance(body, dict) and "status" in body and "error" not in body
