"""A logged prediction's wording kept once: its factors and the sentences of its message, which
many entries share, stored in a table of phrases and referenced from the entry by number.

A prediction's entry is about 2.6 KB of JSON, three quarters of it the factors and message the
person read: 11 factors of about 100 phrases a language, and a message made of about 140
sentences a language (the whole messages differ more, by their score and the symptoms named).
SQLite's work on a write follows the bytes written (inserting, the write-ahead log, the
checkpoint, removing the oldest): a body of a quarter of the size costs it less than half. So
an entry is stored with its ``factors`` as a list of phrase numbers and its ``message`` as the
numbers of its sentences (split at SEPARATOR, joined back the same: exactly the same text), and
read back as the same dict, key order included.

Only INFO entries are packed, whose wording is the service's own: a rejected request's message
can quote the client, and stays in its entry. Phrases are never removed (every process keeps
their numbers): they are wording without a person, a timestamp or an id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain

import orjson

from webapp.logstore.base import json_bytes, json_each

#: Where a message is cut into sentences; ``SEPARATOR.join(message.split(SEPARATOR))`` is the
#: message, whatever it holds.
SEPARATOR = ". "
#: Messages whose sentence numbers a process keeps (about 10,000 a language: 3 bands x 101
#: percents x 32 symptom sets); past it the numbers are forgotten and found again.
MESSAGES_KEPT = 65536


def _packable(entry: dict) -> bool:
    return (
        entry.get("level") == "INFO"
        and type(entry.get("factors")) is list
        and type(entry.get("message")) is str
    )


class Phrases:
    """The numbers of the phrases one store has seen (only ever added to: a number, once given,
    stays). Stores call pack() on a write and unpack() on a read."""

    def __init__(self) -> None:
        #: A phrase's JSON (as the table keeps it) -> its number; sentences by their text too.
        self._numbers: dict[bytes, int] = {}
        self._sentence_numbers: dict[str, int] = {}
        #: A number -> its phrase's JSON, and a sentence's text once read.
        self._texts: dict[int, bytes] = {}
        self._sentences: dict[int, str] = {}
        #: A packed message's sentence numbers, by its text (the model service's messages repeat).
        self._messages: dict[str, list[int]] = {}

    def pack(
        self, entries: Sequence[dict], store: Callable[[list[bytes]], dict[bytes, int]]
    ) -> list[bytes | None]:
        """Each entry's JSON body with its wording as phrase numbers, or None for one stored
        as it is. `store` is given the phrases not seen before (their JSON) and returns their
        numbers, once they are committed."""
        bodies = self._bodies(entries)
        if None in bodies and self._learn(entries, store):  # phrases not seen before, now known
            bodies = self._bodies(entries)
        return [body or None for body in bodies]

    def _learn(self, entries: Sequence[dict], store: Callable[[list[bytes]], dict[bytes, int]]) -> bool:
        """Store the phrases of the packable entries not seen before; whether there were any."""
        packable = [entry for entry in entries if _packable(entry)]
        return self._learn_phrases(
            chain.from_iterable(entry["factors"] for entry in packable),
            [entry["message"] for entry in packable],
            store,
        )

    def _learn_phrases(self, factors, messages, store: Callable[[list[bytes]], dict[bytes, int]]) -> bool:
        """Store these factors and the sentences of these messages not seen before; whether any."""
        new: dict[bytes, str | None] = {}  # JSON -> the sentence it is (None: a factor)
        new.update((text, None) for text in map(json_bytes, factors) if text not in self._numbers)
        for message in messages:
            new.update(
                (json_bytes(sentence), sentence)
                for sentence in message.split(SEPARATOR)
                if sentence not in self._sentence_numbers
            )
        if not new:
            return False
        stored = store(list(new))
        for text, sentence in new.items():
            self._remember(stored[text], text)
            if sentence is not None:
                self._sentence_numbers[sentence] = stored[text]
        return True

    def flat_numbers(
        self, factor_lists: list[list], messages: list[str], store: Callable[[list[bytes]], dict[bytes, int]]
    ) -> tuple[list[int], list[list[int]]] | None:
        """The phrase numbers of a block's wording (blocks.py): every factor of these lists, in one
        list, and each message's sentence numbers; new phrases stored as by pack(). Looked up a
        column at a time: a factor once by its object (a batch's rows share them), a message by
        its text. None when one is not packable (a factor list or message of another type)."""
        if set(map(type, factor_lists)) - {list} or set(map(type, messages)) - {str}:
            return None
        factors = [*chain.from_iterable(factor_lists)]
        found = self._flat_numbers(factors, messages)
        if found is None:
            self._learn_phrases(factors, messages, store)
            found = self._flat_numbers(factors, messages)
        return found

    def _flat_numbers(self, factors: list, messages: list[str]) -> tuple[list[int], list[list[int]]] | None:
        """flat_numbers with the phrases known; None when one is not seen yet."""
        numbers = self._numbers
        by_object = {
            key: numbers.get(json_bytes(factor), 0)
            for key, factor in dict(zip(map(id, factors), factors, strict=True)).items()
        }
        if 0 in by_object.values():
            return None
        found = [*map(self._messages.get, messages)]
        if None in found:
            for index, message in enumerate(messages):
                if found[index] is None:
                    sentences = [self._sentence_numbers.get(text, 0) for text in message.split(SEPARATOR)]
                    if 0 in sentences:
                        return None
                    if len(self._messages) >= MESSAGES_KEPT:
                        self._messages.clear()
                    found[index] = self._messages[message] = sentences
        return [*map(by_object.__getitem__, map(id, factors))], found

    def _bodies(self, entries: Sequence[dict]) -> list[bytes | None]:
        """pack's bodies with the phrases known: None for an entry with one not seen before, b""
        for an entry stored as it is.

        A batch's entries share their factor objects and their message strings (the model
        service builds each once), so a factor's number is looked up once a batch by the
        object (map over C functions: no Python step a factor) and a message's numbers once a
        process by its text (a str: its hash is kept, the look-up is one step)."""
        numbers, sentence_numbers, messages = self._numbers, self._sentence_numbers, self._messages
        by_object: dict[int, int] = {}  # id() of a factor -> its number: the entries keep them alive
        number_of = by_object.get
        bodies: list[dict | bytes | None] = []
        for entry in entries:
            if not _packable(entry):
                bodies.append(b"")
                continue
            factors, message = entry["factors"], entry["message"]
            factor_numbers = [*map(number_of, map(id, factors))]
            if None in factor_numbers:  # a factor not met yet in this batch
                for factor in factors:
                    if id(factor) not in by_object:
                        by_object[id(factor)] = numbers.get(json_bytes(factor), 0)
                factor_numbers = [*map(number_of, map(id, factors))]
            message_numbers = messages.get(message)
            if message_numbers is None:
                message_numbers = [sentence_numbers.get(sentence, 0) for sentence in message.split(SEPARATOR)]
                if 0 not in message_numbers:
                    if len(messages) >= MESSAGES_KEPT:
                        messages.clear()
                    messages[message] = message_numbers
            if 0 in factor_numbers or 0 in message_numbers:
                bodies.append(None)
                continue
            # The entry's keys in its order; the two replaced keep their places. A list of
            # numbers may be shared by several bodies: they are only serialised.
            body = {**entry, "factors": factor_numbers, "message": message_numbers}
            if "id" in body:
                del body["id"]
            bodies.append(body)
        written = iter(json_each([body for body in bodies if body]))
        return [next(written) if body else body for body in bodies]

    def _remember(self, number: int, text: bytes) -> None:
        self._numbers[text] = number
        self._texts[number] = text

    def unpack(
        self, bodies: list[dict], packed: Sequence[bool], load: Callable[[list[int]], dict[int, bytes]]
    ) -> None:
        """Put the wording back in place in each packed body (read as JSON): the entry as it was
        given. `load` returns the JSON of the phrases this process has not seen yet."""
        wanted = {
            number
            for body, is_packed in zip(bodies, packed, strict=True)
            if is_packed
            for key in ("factors", "message")
            for number in body[key]
            if number not in self._texts
        }
        if wanted:
            for number, text in load(sorted(wanted)).items():
                self._remember(number, text)
        texts = self._texts
        for body, is_packed in zip(bodies, packed, strict=True):
            if is_packed:
                body["factors"] = [orjson.loads(texts[number]) for number in body["factors"]]
                body["message"] = SEPARATOR.join([self._sentence(number) for number in body["message"]])

    def _sentence(self, number: int) -> str:
        sentence = self._sentences.get(number)
        if sentence is None:
            sentence = self._sentences[number] = orjson.loads(self._texts[number])
        return sentence
