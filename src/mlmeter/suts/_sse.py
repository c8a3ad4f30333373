"""Server-sent events and OpenAI streaming chunks, parsed incrementally.

The wire format of an OpenAI-compatible streaming answer::

    data: {"choices": [{"delta": {"role": "assistant"}}]}        <- role only: no token
    data: {"choices": [{"delta": {"content": "Hel"}}]}            <- a token chunk
    data: {"choices": [{"text": "lo"}]}                           <- /v1/completions
    data: {"choices": [], "usage": {"completion_tokens": 2}}      <- usage only
    data: [DONE]

Events end with a blank line; a read from the socket may end anywhere, even inside a
``\\r\\n``. ``SSEDecoder`` buffers partial events; ``parse_chunk`` turns one ``data``
payload into a ``Chunk`` or raises ``MalformedChunk``.

Both run once per chunk of every stream, so they take the common case first: one
``data:`` line per read, and the JSON scanned by the C scanner directly (half the
cost of ``json.loads``, which adds its own checks around the same scanner).
"""

from __future__ import annotations

import json
import json.scanner
from typing import Any, NamedTuple

DONE = "[DONE]"


class MalformedChunk(ValueError):
    """A ``data`` payload that is not an OpenAI chunk (bad JSON or wrong shape)."""


class SSEDecoder:
    """Splits a byte stream into the ``data`` payloads of its events."""

    __slots__ = ("_buf", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """The payloads of the events completed by ``chunk`` (maybe none)."""
        if (  # the common case: exactly one single-line data event
            not self._buf
            and chunk.startswith(b"data: ")
            and chunk.find(b"\n") == len(chunk) - 2
            and chunk.endswith(b"\n")
            and not self._data
            and b"\r" not in chunk
        ):
            return [_text(chunk[6:-2])]
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf or self._data:
            return self._feed_lines(buf)
        *events, rest = buf.split(b"\n\n")  # the common case: one line per event
        out: list[str] = []
        for event in events:
            if event.startswith(b"data: ") and b"\n" not in event:
                out.append(_text(event[6:]))
            else:
                self._feed_lines(event + b"\n\n", out)
        self._buf = rest
        return out

    def _feed_lines(self, buf: bytes, out: list[str] | None = None) -> list[str]:
        out = [] if out is None else out
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            self._line(buf[start:end], out)
            start = end + 1
        self._buf = buf[start:]
        return out

    def _line(self, raw: bytes, out: list[str]) -> None:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line:  # blank line: the event is complete
            if self._data:
                out.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(_text(value[1:] if value.startswith(b" ") else value))
        # comments (":") and other fields (event, id, retry) carry nothing we use

    def close(self) -> list[str]:
        """End of stream: a final event not followed by a blank line still counts."""
        out: list[str] = []
        if self._buf:
            self._line(self._buf, out)
            self._buf = b""
        self._line(b"", out)
        return out


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise MalformedChunk(f"not UTF-8: {raw[:60]!r}") from None


class Chunk(NamedTuple):
    """One parsed chunk: generated ``text``, and the usage or error it carries, if any."""

    text: str = ""
    n_tokens: int = 0  # tokens this chunk carries, when it says so (logprobs); else 0
    usage_tokens: int | None = None  # the server's completion_tokens (final chunk)
    finish_reason: str | None = None
    error: str | None = None  # an in-stream error object from the server
    done: bool = False  # the [DONE] sentinel


_DONE_CHUNK = Chunk(done=True)
# the scanner under json.loads (the C one, where built), called without its wrapper
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def parse_chunk(data: str) -> Chunk:
    """The ``Chunk`` in one ``data`` payload (chat or completions layout)."""
    if data == DONE:
        return _DONE_CHUNK
    obj = _load(data)
    if type(obj) is not dict:
        raise MalformedChunk(f"not a JSON object: {data[:60]!r}")
    if "error" in obj:
        return Chunk(error=_error_text(obj["error"]))
    return _from_object(obj, data)


def _load(data: str) -> Any:
    """``json.loads(data)``, twice as fast when no whitespace surrounds the value."""
    try:
        obj, end = _scan(data, 0)
    except StopIteration:  # leading whitespace, or nothing that starts a value
        end = -1
    except ValueError as exc:
        raise MalformedChunk(f"not JSON: {data[:60]!r}") from exc
    if end == len(data):
        return obj
    try:
        return json.loads(data)
    except ValueError as exc:
        raise MalformedChunk(f"not JSON: {data[:60]!r}") from exc


def _from_object(obj: dict[str, Any], data: str) -> Chunk:
    choices = obj.get("choices")
    usage = obj.get("usage")
    usage_tokens = None if usage is None else _usage_tokens(usage, data)
    if not choices:
        if choices is None and usage is None:
            raise MalformedChunk(f"no choices and no usage: {data[:60]!r}")
        return Chunk(usage_tokens=usage_tokens)
    try:
        choice = choices[0]
        delta = choice.get("delta")
        text = choice.get("text") if delta is None else delta.get("content")
    except (AttributeError, KeyError, TypeError):
        raise MalformedChunk(f"choices is not a list of objects: {data[:60]!r}") from None
    if text is not None and type(text) is not str:
        raise MalformedChunk(f"generated text is not a string: {data[:60]!r}")
    logprobs = choice.get("logprobs")
    return Chunk(
        text or "",
        _logprob_tokens(logprobs) if logprobs else 0,
        usage_tokens,
        choice.get("finish_reason"),
    )


def _usage_tokens(usage: Any, data: str) -> int:
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or tokens < 0:
        raise MalformedChunk(f"usage without completion_tokens: {data[:60]!r}")
    return tokens


def _logprob_tokens(logprobs: Any) -> int:
    """Tokens in a chunk, from its logprobs (completions: tokens; chat: content)."""
    if not isinstance(logprobs, dict):
        return 0
    tokens = logprobs.get("tokens", logprobs.get("content"))
    return len(tokens) if isinstance(tokens, list) else 0


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error)
