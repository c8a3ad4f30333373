"""The SSE decoder and the OpenAI chunk parser: the edge cases a streaming client meets."""

from __future__ import annotations

import json

import pytest

from mlmeter.suts._sse import Chunk, MalformedChunk, SSEDecoder, parse_chunk


def _chat(delta: dict[str, object], **extra: object) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": delta, **extra}]})


def test_role_only_chunk_carries_no_token() -> None:
    chunk = parse_chunk(_chat({"role": "assistant"}))
    assert chunk.text == "" and chunk.usage_tokens is None and not chunk.done


def test_chat_content_and_completions_text() -> None:
    assert parse_chunk(_chat({"content": "Hel"})).text == "Hel"
    assert parse_chunk(json.dumps({"choices": [{"text": "lo", "index": 0}]})).text == "lo"


def test_empty_and_null_content_are_not_tokens() -> None:
    assert parse_chunk(_chat({"content": ""})).text == ""
    assert parse_chunk(_chat({"content": None}, finish_reason="stop")).finish_reason == "stop"


def test_usage_only_chunk() -> None:
    data = json.dumps({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}})
    assert parse_chunk(data) == Chunk(usage_tokens=7)


def test_usage_null_in_every_chunk_is_ignored() -> None:
    data = json.dumps({"choices": [{"delta": {"content": "a"}}], "usage": None})
    assert parse_chunk(data) == Chunk(text="a")


def test_multi_token_chunk_counts_its_logprobs() -> None:
    completions = {"choices": [{"text": "a b c", "logprobs": {"tokens": ["a", " b", " c"]}}]}
    assert parse_chunk(json.dumps(completions)).n_tokens == 3
    chat = _chat({"content": "ab"}, logprobs={"content": [{"token": "a"}, {"token": "b"}]})
    assert parse_chunk(chat).n_tokens == 2


def test_done_and_in_stream_error() -> None:
    assert parse_chunk("[DONE]").done
    assert parse_chunk(json.dumps({"error": {"message": "overloaded"}})).error == "overloaded"


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"id": "x"}),
        json.dumps({"choices": "nope"}),
        json.dumps({"choices": [{"delta": {"content": 5}}]}),
        json.dumps({"choices": [], "usage": {"prompt_tokens": 3}}),
    ],
)
def test_malformed_chunks_raise(data: str) -> None:
    with pytest.raises(MalformedChunk):
        parse_chunk(data)


def test_decoder_events_split_across_reads_at_every_byte() -> None:
    wire = b'data: {"a": 1}\r\n\r\n: a comment\n\ndata: [DONE]\n\n'
    for cut in range(len(wire) + 1):
        dec = SSEDecoder()
        assert dec.feed(wire[:cut]) + dec.feed(wire[cut:]) == ['{"a": 1}', "[DONE]"]


def test_decoder_byte_by_byte_with_multibyte_text() -> None:
    wire = 'data: {"t": "héllo ✓"}\n\n'.encode()
    dec = SSEDecoder()
    out = [p for i in range(len(wire)) for p in dec.feed(wire[i : i + 1])]
    assert out == ['{"t": "héllo ✓"}']


def test_decoder_joins_multiline_data_and_ignores_other_fields() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"event: x\nid: 3\ndata: a\ndata:b\nretry: 5\n\n") == ["a\nb"]


def test_decoder_keeps_the_partial_event_after_a_multiline_one() -> None:
    dec = SSEDecoder()
    assert dec.feed(b'data: a\ndata: b\n\ndata: {"x"') == ["a\nb"]
    assert dec.feed(b": 1}\n\n") == ['{"x": 1}']


def test_decoder_refuses_bad_utf8() -> None:
    with pytest.raises(MalformedChunk):
        SSEDecoder().feed(b"data: \xff\n\n")


def test_decoder_close_flushes_an_unterminated_event() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: [DONE]") == []
    assert dec.close() == ["[DONE]"]
    assert SSEDecoder().close() == []
