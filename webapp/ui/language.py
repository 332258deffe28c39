"""The page's language, decided on the server before Gradio's front end starts.

Gradio translates the page (its own widgets and the app's `gr.I18n` strings) in the language
of `navigator.language`, read once when it starts. The language switch is a link to `?lang=fr`
or `?lang=en`; this ASGI middleware answers the page for that choice (remembered in a cookie),
else for the browser's Accept-Language: it writes the language into `<html lang>` and, first
thing in `<head>`, a small script that makes `navigator.language` say it, so Gradio's front end
starts in the same language as the server. Everything else passes through untouched.
"""

from __future__ import annotations

import json
import re
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from .. import i18n

COOKIE = "lr_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

_HTML_LANG = re.compile(rb"<html(\s[^>]*?)?\slang=\"[^\"]*\"", re.IGNORECASE)
_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


def boot_script(lang: str) -> str:
    return (
        "<script>(function(){var l=" + json.dumps(lang) + ";try{"
        "Object.defineProperty(navigator,'language',{configurable:true,get:function(){return l;}});"
        "Object.defineProperty(navigator,'languages',{configurable:true,get:function(){return [l];}});"
        "}catch(e){}})();</script>"
    )


def choose(query_string: bytes, headers: dict[bytes, bytes]) -> tuple[str, bool]:
    """(language, chosen by the switch just now): `?lang=`, else the cookie, else Accept-Language."""
    asked = parse_qs(query_string.decode("latin-1")).get("lang", [""])[0].lower()
    if asked in i18n.LANGUAGES:
        return asked, True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:  # a malformed Cookie header: decide as if there were none
        cookie = SimpleCookie()
    remembered = cookie[COOKIE].value if COOKIE in cookie else ""
    if remembered in i18n.LANGUAGES:
        return remembered, False
    return i18n.negotiate(headers.get(b"accept-language", b"").decode("latin-1")), False


def localize_page(body: bytes, lang: str) -> bytes:
    tag = b'lang="' + lang.encode() + b'"'
    body = _HTML_LANG.sub(lambda m: m.group(0)[: m.group(0).rfind(b"lang=")] + tag, body, count=1)
    return _HEAD.sub(lambda m: m.group(0) + boot_script(lang).encode(), body, count=1)


class PageLanguage:
    """ASGI middleware for Gradio's app: the page (`GET /`) in the chosen language."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].rstrip("/") != "":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        lang, switched = choose(scope.get("query_string", b""), headers)
        start: dict = {}
        chunks: list[bytes] = []

        async def rewrite(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            response_headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            kinds = {k.lower(): v for k, v in response_headers}
            if kinds.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in kinds:
                body = localize_page(body, lang)
                response_headers += [
                    (b"content-language", lang.encode()),
                    (b"vary", b"Accept-Language, Cookie"),
                ]
                if switched:
                    cookie = f"{COOKIE}={lang}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax"
                    response_headers.append((b"set-cookie", cookie.encode()))
            response_headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
