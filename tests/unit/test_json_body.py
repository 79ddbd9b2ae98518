"""The one JSON body parser: its limits are exact and its refusals are 400s, never RecursionError or a bad str."""

from __future__ import annotations

import pytest

from ingress.errors import ApiError
from ingress.json_body import MAX_DEPTH, parse_json


def _refused(body: bytes | str) -> str:
    with pytest.raises(ApiError) as refused:
        parse_json(body)
    assert refused.value.status_code == 400
    return str(refused.value.description)


def _nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def test_nesting_up_to_the_limit_is_parsed_and_one_more_is_400() -> None:
    assert parse_json(_nested(MAX_DEPTH))["a"]["a"]["a"] is not None
    assert "nested too deeply" in _refused(_nested(MAX_DEPTH + 1))
    assert "nested too deeply" in _refused(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert "nested too deeply" in _refused(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udfff": 1}', '["ok", {"k": ["\\ud83d"]}]'])
def test_lone_surrogates_anywhere_are_400(text: str) -> None:
    assert "surrogate" in _refused(text)


def test_a_surrogate_pair_is_text() -> None:
    assert parse_json('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}', "1e999", "-1e400"])
def test_non_finite_numbers_are_400(text: str) -> None:
    assert "NaN, Infinity" in _refused(text)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"1" * 5000, b"{'a': 1}"])
def test_what_is_not_json_is_400(body: bytes) -> None:
    assert "not valid JSON" in _refused(body)
