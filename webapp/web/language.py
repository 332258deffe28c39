"""The reader's language for the API's sentences and the admin pages: `Accept-Language`.

Field names, codes and keys stay English; only the sentences people read change. Responses say
which language they are in (`Content-Language`) and that caches must keep one per language
(`Vary: Accept-Language`). Templates get `_` (this request's translator) and `page_language`.
"""
from __future__ import annotations

from flask import Flask, request

from webapp import i18n

_ENVIRON_KEY = "lungrisk.language"


def request_language() -> str:
    """`en` or `fr`: the supported language this request prefers (English by default)."""
    # Kept on the request itself: `g` outlives the request when an app context was already pushed.
    lang = request.environ.get(_ENVIRON_KEY)
    if lang is None:
        lang = request.environ[_ENVIRON_KEY] = i18n.negotiate(request.headers.get("Accept-Language"))
    return lang


def init_app(app: Flask) -> None:
    app.after_request(_language_headers)
    app.context_processor(lambda: {"_": i18n.translator(request_language()),
                                   "page_language": request_language()})


def _language_headers(response):
    response.vary.add("Accept-Language")
    response.headers.setdefault("Content-Language", request_language())
    return response
