"""An OpenAI-compatible HTTP server over any token source (the server side of LLM serving).

The app knows nothing of models: a ``TokenSource`` turns a ``GenerationRequest`` into a
``Generation`` (the prompt's token count and an async iterator of ``Piece``s, each the text
of one or more tokens). The fake token server (``FakeTokenSource``) and SmolLM2 both plug in.

Routes::

    POST /v1/completions        prompt -> text      (object "text_completion")
    POST /v1/chat/completions   messages -> message (object "chat.completion[.chunk]")
    GET  /v1/models             the one model
    GET  /health                200 while the process serves
    GET  /ready                 200 once the source is ready (model loaded), else 503

``"stream": true`` answers ``text/event-stream``: ``data: {json}\\n\\n`` per chunk, then
``data: [DONE]\\n\\n``. A chat stream opens with a role-only chunk (no content), as real
servers do. The last token chunk is followed by an empty one carrying ``finish_reason``, and,
with ``stream_options.include_usage``, by a ``choices: []`` chunk carrying ``usage``.

A source may inject wire faults: raise ``ServerFault`` (an HTTP error status) from ``open``,
or yield ``WireFault.CUT`` (close the connection, no ``[DONE]``) or ``WireFault.MALFORMED``
(one ``data:`` line that is not JSON) among its pieces.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mlmeter.suts._uvicorn import ServerThread as ServerThread  # re-exported for tests

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class WireFault(enum.Enum):
    """A fault a source injects into a stream in place of a piece."""

    CUT = "cut"  # close the connection now: no finish chunk, no [DONE]
    MALFORMED = "malformed"  # send one data: line that is not JSON, then go on


@dataclass(frozen=True, slots=True)
class Piece:
    """The text of ``tokens`` generated tokens, sent as one chunk (text may be empty)."""

    text: str
    tokens: int = 1


class ServerFault(Exception):
    """Raised by ``TokenSource.open``: answer with this HTTP status instead of a completion."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RequestError(ValueError):
    """A request the server refuses with 400 (the message says what is wrong)."""


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: a completion ``prompt`` or chat ``messages``."""

    chat: bool
    prompt: str | tuple[int, ...] = ""
    messages: tuple[tuple[str, str], ...] = ()  # (role, content)
    max_tokens: int | None = None  # None: the source's default
    ignore_eos: bool = False


@dataclass
class Generation:
    """One answer being generated; the source sets ``finish_reason`` before ``pieces`` ends."""

    prompt_tokens: int
    pieces: AsyncGenerator[Piece | WireFault, None]
    finish_reason: str = "length"


class TokenSource(Protocol):
    """What the server serves: a model, real or fake."""

    @property
    def model(self) -> str:
        """The model id reported in every answer."""
        ...

    def ready(self) -> tuple[bool, str]:
        """Whether requests can be served now, and a reason when not."""
        ...

    async def open(self, request: GenerationRequest) -> Generation:
        """Start generating (raise ``RequestError`` or ``ServerFault`` to refuse)."""
        ...


def openai_app(source: TokenSource) -> Starlette:
    """The ASGI app serving ``source`` OpenAI-compatibly."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> JSONResponse:
        ok, reason = source.ready()
        return JSONResponse({"ready": ok, "reason": reason}, status_code=200 if ok else 503)

    async def models(_: Request) -> JSONResponse:
        card = {"id": source.model, "object": "model", "created": 0, "owned_by": "mlmeter"}
        return JSONResponse({"object": "list", "data": [card]})

    routes = [
        Route("/v1/completions", _Endpoint(source, chat=False), methods=["POST"]),
        Route("/v1/chat/completions", _Endpoint(source, chat=True), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
    ]
    return Starlette(routes=routes)


@dataclass(frozen=True)
class _Options:
    """The wire options of one request."""

    stream: bool
    include_usage: bool


class _Endpoint:
    """POST /v1/completions or /v1/chat/completions, as a raw ASGI app."""

    def __init__(self, source: TokenSource, *, chat: bool) -> None:
        self.source = source
        self.chat = chat
        self._ids = itertools.count(1)
        self._prefix = ("chatcmpl-" if chat else "cmpl-") + os.urandom(4).hex()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request, options = _parse(await _read_body(receive), chat=self.chat)
            ok, reason = self.source.ready()
            if not ok:
                raise ServerFault(503, f"not ready: {reason}")
            generation = await self.source.open(request)
        except RequestError as exc:
            await _send_error(send, 400, str(exc), "invalid_request_error")
            return
        except ServerFault as exc:
            await _send_error(send, exc.status, str(exc), "server_error")
            return
        wire = _Wire(f"{self._prefix}-{next(self._ids)}", self.source.model, self.chat)
        if options.stream:
            await _stream(wire, generation, options, receive, send)
        else:
            await _complete(wire, generation, send)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError("the client disconnected")
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


def _parse(body: bytes, *, chat: bool) -> tuple[GenerationRequest, _Options]:
    """The request and wire options of a JSON body (``RequestError`` when invalid)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise RequestError("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise RequestError("the request body must be a JSON object")
    if data.get("n", 1) != 1:
        raise RequestError("only n=1 is supported")
    max_tokens = data.get("max_tokens")
    if chat and data.get("max_completion_tokens") is not None:
        max_tokens = data["max_completion_tokens"]
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise RequestError("max_tokens must be a positive integer")
    common: dict[str, Any] = {"max_tokens": max_tokens, "ignore_eos": bool(data.get("ignore_eos"))}
    if chat:
        request = GenerationRequest(chat=True, messages=_messages(data.get("messages")), **common)
    else:
        request = GenerationRequest(chat=False, prompt=_prompt(data.get("prompt")), **common)
    stream_options = data.get("stream_options") or {}
    include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
    return request, _Options(bool(data.get("stream", False)), include_usage)


def _prompt(value: Any) -> str | tuple[int, ...]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]  # a batch of one prompt
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(type(t) is int for t in value):
        return tuple(value)
    raise RequestError("prompt must be a string or a list of token ids (one prompt)")


def _messages(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise RequestError("messages must be a non-empty list")
    out = []
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError("each message needs a role and a content")
        out.append((message["role"], _content(message.get("content"))))
    return tuple(out)


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(str(p) for p in parts)
    raise RequestError("message content must be a string or a list of text parts")


_OPEN = ',"logprobs":null,"finish_reason":'
_TAIL = _OPEN + "null}]}"


@dataclass
class _Wire:
    """Formats one answer's chunks and bodies (prefixes built once per request)."""

    id: str
    model: str
    chat: bool
    created: int = field(default_factory=lambda: int(time.time()))

    def _head(self) -> str:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        model = json.dumps(self.model)
        return f'{{"id":"{self.id}","object":"{kind}","created":{self.created},"model":{model}'

    def chunk_prefix(self) -> str:
        """Everything of a token chunk before its JSON-encoded text."""
        field_ = '"delta":{"content":' if self.chat else '"text":'
        return self._head() + ',"choices":[{"index":0,' + field_

    def chunk_suffix(self) -> str:
        """Everything of a token chunk after its text."""
        return "}" + _TAIL if self.chat else _TAIL

    def role_chunk(self) -> str:
        """The chat stream's first chunk: the role, no content."""
        return self._head() + ',"choices":[{"index":0,"delta":{"role":"assistant"}' + _TAIL

    def finish_chunk(self, reason: str) -> str:
        """The empty chunk that carries ``finish_reason``."""
        empty = '"delta":{}' if self.chat else '"text":""'
        return self._head() + ',"choices":[{"index":0,' + empty + _OPEN + f'"{reason}"}}]}}'

    def usage_chunk(self, usage: dict[str, int]) -> str:
        """The ``choices: []`` chunk with the usage (``include_usage``)."""
        return self._head() + f',"choices":[],"usage":{json.dumps(usage)}}}'

    def body(self, text: str, reason: str, usage: dict[str, int]) -> dict[str, Any]:
        """A non-streaming answer."""
        if self.chat:
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
        else:
            choice = {"index": 0, "text": text, "logprobs": None}
        choice["finish_reason"] = reason
        kind = "chat.completion" if self.chat else "text_completion"
        head = {"id": self.id, "object": kind, "created": self.created, "model": self.model}
        return {**head, "choices": [choice], "usage": usage}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    total = prompt_tokens + completion_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total,
    }


_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def _stream(
    wire: _Wire, generation: Generation, options: _Options, receive: Receive, send: Send
) -> None:
    """Send the answer as server-sent events; stop early if the client goes away."""
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(receive, gone))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        if wire.chat:
            await _event(send, wire.role_chunk())
        n_tokens = await _send_pieces(wire, generation, send, gone)
        if n_tokens < 0:  # cut: return without completing; the server closes the socket
            return
        tail = "data: " + wire.finish_chunk(generation.finish_reason) + "\n\n"
        if options.include_usage:
            usage = _usage(generation.prompt_tokens, n_tokens)
            tail += "data: " + wire.usage_chunk(usage) + "\n\n"
        await send({"type": "http.response.body", "body": (tail + "data: [DONE]\n\n").encode()})
    finally:
        watcher.cancel()
        await generation.pieces.aclose()


async def _send_pieces(wire: _Wire, generation: Generation, send: Send, gone: asyncio.Event) -> int:
    """Send each piece as a chunk; the token count, or -1 when cut (or the client left)."""
    prefix, suffix = wire.chunk_prefix(), wire.chunk_suffix()
    n_tokens = 0
    async for piece in generation.pieces:
        if gone.is_set():
            return -1
        if piece is WireFault.CUT:
            return -1
        if piece is WireFault.MALFORMED:
            await _event(send, prefix + '"broken')  # truncated JSON
            continue
        assert isinstance(piece, Piece)
        n_tokens += piece.tokens
        await _event(send, prefix + json.dumps(piece.text) + suffix)
    return n_tokens


async def _event(send: Send, data: str) -> None:
    body = ("data: " + data + "\n\n").encode()
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _complete(wire: _Wire, generation: Generation, send: Send) -> None:
    """Send the whole answer as one JSON body (a cut sends headers only)."""
    parts: list[str] = []
    n_tokens = 0
    malformed = False
    try:
        async for piece in generation.pieces:
            if piece is WireFault.CUT:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                return
            if piece is WireFault.MALFORMED:
                malformed = True
            elif isinstance(piece, Piece):
                parts.append(piece.text)
                n_tokens += piece.tokens
    finally:
        await generation.pieces.aclose()
    usage = _usage(generation.prompt_tokens, n_tokens)
    body = json.dumps(wire.body("".join(parts), generation.finish_reason, usage)).encode()
    if malformed:
        body = body[: len(body) // 2]
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, message: str, kind: str) -> None:
    error = {"message": message, "type": kind, "param": None, "code": status}
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
