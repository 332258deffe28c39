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
    return language_of(request.environ)


def language_of(environ) -> str:
    """request_language, for a caller that holds the request's WSGI environ."""
    # Kept on the request itself: `g` outlives the request when an app context was already pushed.
    lang = environ.get(_ENVIRON_KEY)
    if lang is None:
        # The environ, not request.headers.get: that raises and catches a KeyError when the header
        # is absent (most API calls), a few microseconds on every request.
        lang = environ[_ENVIRON_KEY] = i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE"))
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
    # What `response.vary.add("Accept-Language")` and `headers.setdefault("Content-Language", ...)`
    # write, from one pass over the headers: Headers.get and setdefault raise and catch a KeyError
    # for a missing header (most responses have neither), and setdefault scans twice more. This
    # hook took a tenth of a request's CPU time around an echo view; with request_language it
    # went from 11 to 2.5 us a response (measured alone, in a request context).
    headers = response.headers
    vary = None
    has_language = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "vary":
            if vary is None:  # the first, as Headers.get gives
                vary = value
        elif lowered == "content-language":
            has_language = True
    if vary is None:  # most responses
        headers.add("Vary", "Accept-Language")
    elif not vary:
        headers["Vary"] = "Accept-Language"
    elif "accept-language" not in (value.strip().lower() for value in vary.split(",")):
        headers["Vary"] = f"{vary}, Accept-Language"
    if not has_language:
        headers.add("Content-Language", request_language())
    return response
