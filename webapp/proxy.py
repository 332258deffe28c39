"""The one HTTP client the Gradio UI uses to reach the JSON API.

    client = APIProxyClient()                      # API_URL, PROXY_MODE, PROXY_*_TIMEOUT (webapp.settings)
    body, status = client.post_predict(record)     # never raises into the UI

Every method answers `(body, status)`: the API's JSON and HTTP status, or, when the API
cannot be reached, the API's own error envelope with 503 (nothing listening, connection
refused), 504 (timed out) or 502 (an answer that is not JSON).

Two transports. `pooled` (the default on a Hugging Face Space, where SPACE_ID is set): one
`HTTPAdapter` whose keep-alive pool is sized to the UI's concurrency, with bounded retries
and backoff on connection errors and 502/503/504 for GET and POST (predictions are pure
functions of their input, so a retried POST is safe) but never for DELETE. `simple`
(elsewhere): a plain `requests` call, one connection per request. PROXY_MODE overrides.

A UI handler passes `visitor`, the address of the person using the page: it goes to the API as
X-Forwarded-For, which the API believes only from the addresses it exempts from rate limits
(loopback: this process), so each visitor of the UI is rate-limited on their own.

Importable without Flask or Gradio.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from webapp.settings import PROXY_MODES, Settings

logger = logging.getLogger(__name__)

Result = tuple[Any, int]


def new_request_id() -> str:
    return uuid.uuid4().hex


def error_envelope(
    code: str, message: str, details: Any = None, request_id: str | None = None
) -> dict[str, Any]:
    """The envelope the API itself uses, for failures that happen before it can answer."""
    return {"error": {"code": code, "message": message, "details": details}, "request_id": request_id}


class _AnswersRetry(Retry):
    #: Retry-After is waited out only for a 503 (an API restarting). urllib3 also retries a 413 or
    #: a 429 that carries it: a visitor over the API's rate limit would hold a UI worker for the
    #: Retry-After (up to an hour for the rows limit) and then be sent again; they are answers.
    RETRY_AFTER_STATUS_CODES = frozenset({503})


def retry_policy(total: int = 3, backoff_factor: float = 0.2) -> Retry:
    return _AnswersRetry(
        total=total,
        connect=total,
        read=False,  # a read timeout means the API is busy on it: retrying only piles on
        status=total,
        backoff_factor=backoff_factor,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),  # not DELETE: clearing is not idempotent
        respect_retry_after_header=True,
        raise_on_status=False,  # after the last retry, hand back the API's own answer
    )


class APIProxyClient:
    """One method per API endpoint; each returns `(body, status)` and never raises."""

    def __init__(
        self,
        api_url: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        mode: str | None = None,
        pool_size: int | None = None,
        retries: int = 3,
        backoff_factor: float = 0.2,
        admin_token: str | None = None,
    ):
        settings = Settings.from_env()  # what is not given: API_URL, PROXY_*, UI_CONCURRENCY
        self.api_url = (api_url or settings.api_url).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.proxy_timeout
        self.mode = mode or settings.proxy_mode
        if self.mode not in PROXY_MODES:
            raise ValueError(f"mode must be one of {', '.join(PROXY_MODES)}, got {self.mode!r}")
        self.pool_size = pool_size or settings.ui_concurrency
        self.admin_token = admin_token
        self._adapter: HTTPAdapter | None = None
        self._local = threading.local()
        if self.mode == "pooled":
            # One adapter (its urllib3 pool is thread-safe) shared by a Session per thread, so
            # Gradio's worker threads share connections but never a Session's cookie jar.
            self._adapter = HTTPAdapter(
                pool_connections=1,
                pool_maxsize=self.pool_size,
                pool_block=False,
                max_retries=retry_policy(retries, backoff_factor),
            )

    def __repr__(self) -> str:
        return f"APIProxyClient({self.api_url!r}, mode={self.mode!r}, pool_size={self.pool_size})"

    # -- endpoints -------------------------------------------------------------------------

    def get_info(self, request_id: str | None = None) -> Result:
        return self.request("GET", "/", request_id=request_id)

    def get_health(self, request_id: str | None = None) -> Result:
        return self.request("GET", "/health", request_id=request_id)

    def get_metadata(self, request_id: str | None = None, language: str | None = None) -> Result:
        return self.request("GET", "/metadata", request_id=request_id, language=language)

    def post_predict(
        self,
        records: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        request_id: str | None = None,
        language: str | None = None,
        visitor: str | None = None,
    ) -> Result:
        """One record (a dict) or a batch (a list of dicts); `language` asks for its sentences in it;
        `visitor` is the address the API's rate limits count this call against."""
        return self.request(
            "POST", "/predict", json=records, request_id=request_id, language=language, visitor=visitor
        )

    def post_predict_proba(
        self,
        records: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        request_id: str | None = None,
        language: str | None = None,
        visitor: str | None = None,
    ) -> Result:
        return self.request(
            "POST", "/predict_proba", json=records, request_id=request_id, language=language, visitor=visitor
        )

    def get_logs(
        self,
        limit: int = 50,
        offset: int = 0,
        token: str | None = None,
        request_id: str | None = None,
        **filters: Any,
    ) -> Result:
        """Filters are the API's query parameters: level, endpoint, prediction, since, ..."""
        params = {"limit": int(limit), "offset": int(offset)}
        params.update({key: value for key, value in filters.items() if value not in (None, "")})
        return self.request("GET", "/logs", params=params, token=token, request_id=request_id)

    def delete_logs(self, token: str | None = None, request_id: str | None = None) -> Result:
        return self.request("DELETE", "/logs", token=token, request_id=request_id)

    def check_connection(self, request_id: str | None = None) -> Result:
        """Whether the API answers its liveness probe, with the round trip in milliseconds."""
        started = time.perf_counter()
        body, status = self.request("GET", "/health/live", request_id=request_id)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        if status >= 500 and isinstance(body, dict) and "error" in body:
            return body, status
        return {
            "connected": status == 200,
            "api_url": self.api_url,
            "mode": self.mode,
            "status": status,
            "latency_ms": latency_ms,
            "answer": body,
        }, status

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        token: str | None = None,
        request_id: str | None = None,
        language: str | None = None,
        visitor: str | None = None,
    ) -> Result:
        """`language` (a language tag) is sent as Accept-Language: the API answers its sentences in it.
        `visitor` (the UI visitor's address) as X-Forwarded-For: the API limits that address."""
        request_id = request_id or new_request_id()
        headers = {"Accept": "application/json", "X-Request-ID": request_id}
        if language:
            headers["Accept-Language"] = language
        if visitor:
            headers["X-Forwarded-For"] = visitor
        token = token or self.admin_token
        if token:
            headers["Authorization"] = f"Bearer {token.strip()}"
        url = self.api_url + path
        try:
            response = self._send(
                method, url, headers=headers, json=json, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            status, code, message = self._failure(exc)
            logger.warning("%s %s failed (%s): %s [request %s]", method, url, status, exc, request_id)
            return error_envelope(
                code, message, {"api_url": self.api_url, "reason": type(exc).__name__}, request_id
            ), status
        try:
            return response.json(), response.status_code
        except ValueError:
            logger.warning(
                "%s %s answered %s with non-JSON content (%s) [request %s]",
                method,
                url,
                response.status_code,
                response.headers.get("Content-Type"),
                request_id,
            )
            return error_envelope(
                "bad_gateway",
                f"The API at {self.api_url} answered with something that is not JSON.",
                {
                    "upstream_status": response.status_code,
                    "content_type": response.headers.get("Content-Type"),
                    "body_excerpt": response.text[:200],
                },
                response.headers.get("X-Request-ID") or request_id,
            ), 502

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if self._adapter is None:
            return requests.request(method, url, **kwargs)
        return self._session().request(method, url, **kwargs)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", self._adapter)
            session.mount("https://", self._adapter)
            self._local.session = session
        return session

    def _failure(self, exc: requests.RequestException) -> tuple[int, str, str]:
        if isinstance(exc, requests.Timeout) or _timed_out(exc):
            return (
                504,
                "gateway_timeout",
                (f"The API at {self.api_url} did not answer in time (timeout {self.timeout} s)."),
            )
        if isinstance(exc, requests.ConnectionError):
            return (
                503,
                "service_unavailable",
                (f"The API at {self.api_url} cannot be reached: is it running?"),
            )
        return 502, "bad_gateway", f"The request to the API at {self.api_url} failed: {exc}."

    def close(self) -> None:
        if self._adapter is not None:
            self._adapter.close()


def _timed_out(exc: requests.RequestException) -> bool:
    """A read timeout that urllib3 wrapped in its retry error still counts as a timeout."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)
