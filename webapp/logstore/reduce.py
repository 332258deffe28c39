"""What is kept of a log entry a store refused: its identifying fields and the rest as flat text.

A client controls much of what a rejected request's entry holds (its body, its keys). Whatever it
sends, the entry must still be storable on its own, and must never stop other entries from being
stored: anything nested, huge or unserialisable becomes bounded, escaped text here.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

#: Characters of a client's raw text kept in an entry (a rejected body, a reduced entry's rest).
TEXT_LIMIT = 2048
#: Fields a reduced entry keeps as they were when they are plain scalars.
KEPT_FIELDS = ("timestamp", "level", "endpoint", "request_id", "model_version", "latency_ms")
_SCALARS = (str, int, float, bool, type(None))
# repr that stops descending after a few levels, whatever the depth (a body may nest 1000 deep).
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 6, TEXT_LIMIT, 200
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = 64


def bounded_text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """``value`` as one line of ASCII text, at most ``limit`` characters plus a length note.

    Bytes are decoded as UTF-8 (bad bytes replaced); other values are shown with a bounded repr.
    Non-ASCII and control characters are backslash-escaped, so the text is safe to store and show.
    """
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = _REPR.repr(value)
        except Exception as exc:  # e.g. an int too long to print: say what it was instead
            text = f"<unprintable {type(value).__name__}: {exc}>"
    total = len(text)
    text = text[:limit].encode("ascii", "backslashreplace").decode("ascii")
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")[:limit]
    if total > limit:
        text += f"... [{total} characters in all]"
    return text


def is_flat(value: Any) -> bool:
    """True for a dict whose values are all plain scalars (a record as the API expects it)."""
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, _SCALARS) for key, item in value.items()
    )


def reduce_entry(entry: Mapping, reason: BaseException | str) -> dict:
    """A storable stand-in for ``entry``: scalar fields kept, everything else as bounded text."""
    reduced: dict[str, Any] = {}
    for key in KEPT_FIELDS:
        value = entry.get(key)
        if isinstance(value, str):
            reduced[key] = bounded_text(value, 256)
        elif isinstance(value, _SCALARS) and not isinstance(value, bool):
            reduced[key] = value
        else:
            reduced[key] = None
    rest = {key: value for key, value in entry.items() if key not in KEPT_FIELDS and key != "id"}
    reduced.update(
        {
            "inputs": None,
            "prediction": None,
            "probability": None,
            "errors": None,
            "message": "Entry reduced: the log store refused it as it was "
            f"({bounded_text(str(reason) or type(reason).__name__, 200)}).",
            "body": bounded_text(rest),
        }
    )
    return reduced
