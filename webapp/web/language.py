"""The reader's language for the API's sentences and the admin pages: `Accept-Language`.

Field names, codes and keys stay English; only the sentences people read change. Responses say
which language they are in (`Content-Language`) and that caches must keep one per language
(`Vary: Accept-Language`). Templates get `_(key, **params)` and `page_language()`.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from markupsafe import Markup

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
    # Globals, not a context processor: imported macros (the drift report's) see them too.
    app.jinja_env.globals.update(_=translate, page_language=page_language)


def page_language() -> str:
    return request_language() if has_request_context() else i18n.DEFAULT


def translate(key: str, **params) -> Markup:
    """`_` in the templates: the catalogue's text in this request's language. The catalogue is
    trusted markup; the values put in it are escaped unless they are Markup themselves."""
    return Markup(i18n.catalog(page_language())[key]).format(**params)


def _language_headers(response):
    # What `response.vary.add("Accept-Language")` writes, without building a HeaderSet (which
    # re-serializes the header on every change) on each response.
    headers = response.headers
    vary = headers.get("Vary")
    if vary is None:  # most responses: added, without a second scan of the headers to replace it
        headers.add("Vary", "Accept-Language")
    elif not vary:
        headers["Vary"] = "Accept-Language"
    elif "accept-language" not in (value.strip().lower() for value in vary.split(",")):
        headers["Vary"] = f"{vary}, Accept-Language"
    headers.setdefault("Content-Language", request_language())
    return response
