"""The token check's own JWT decoder, compared with pyjwt's unverified decode."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posos_jwt import TokenCheckError
from posos_jwt._idtoken import MAX_TOKEN_LENGTH, decode_unverified

Decoded = tuple[dict[str, Any], dict[str, Any]]


def segment(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(header: bytes | str, payload: bytes | str, signature: str = "c2ln") -> str:
    return f"{segment(header)}.{segment(payload)}.{signature}"


HEADER = '{"alg":"RS256","kid":"k1","typ":"JWT"}'
PAYLOAD = '{"aud":"a","exp":1790003600,"email":"x@y.z"}'
GOOD = token(HEADER, PAYLOAD)


def ours(value: str) -> Decoded | None:
    try:
        return decode_unverified(value)
    except TokenCheckError:
        return None


def pyjwt(value: str) -> Decoded | None:
    try:
        header = jwt.get_unverified_header(value)
        claims = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return header, claims


AGREED = {
    "good": GOOD,
    "empty signature": token(HEADER, PAYLOAD, ""),
    "unicode claim": token(HEADER, '{"aud":"caf\u00e9","exp":1}'),
    "empty objects": token("{}", "{}"),
    "empty string": "",
    "one segment": segment(HEADER),
    "two segments": f"{segment(HEADER)}.{segment(PAYLOAD)}",
    "four segments": GOOD + ".c2ln",
    "empty header": f".{segment(PAYLOAD)}.c2ln",
    "empty payload": f"{segment(HEADER)}..c2ln",
    "header not json": token("not json", PAYLOAD),
    "payload not json": token(HEADER, "not json"),
    "header a list": token("[]", PAYLOAD),
    "payload a list": token(HEADER, "[1]"),
    "payload a string": token(HEADER, '"x"'),
    "payload a number": token(HEADER, "3"),
    "payload not utf-8": token(HEADER, b'{"a":"\xff"}'),
    "standard alphabet": token(HEADER, PAYLOAD).replace("c2ln", "c2l+"),
    "space in segment": GOOD.replace(".", ". ", 1),
    "junk characters": GOOD.replace(".", ".!!!!", 1),
    "length 1 mod 4": f"{segment(HEADER)}.{segment(PAYLOAD)}A.c2ln",
    "set trailing bits": token(HEADER, PAYLOAD, "QR"),
    "non-ascii character": GOOD + "\u00e9",
    "kid a number": token('{"alg":"RS256","kid":1}', PAYLOAD),
    "b64 false": token('{"alg":"RS256","b64":false}', PAYLOAD),
    "deep nesting": token(HEADER, "[" * 5000 + "]" * 5000),
    "huge integer": token(HEADER, '{"exp":' + "9" * 5000 + "}"),
}
"""Tokens that both decoders must accept with the same result, or both reject."""

STRICTER = {
    "padded signature": token(HEADER, PAYLOAD, "c2lnbg=="),
    "padded payload": f"{segment(HEADER)}.{segment('{}')}=.c2ln",
    "utf-16 payload": token(HEADER, '{"a":1}'.encode("utf-16")),
    "utf-8 byte order mark": token(HEADER, b"\xef\xbb\xbf{}"),
    "crit b64 true": token('{"alg":"RS256","crit":["b64"],"b64":true}', PAYLOAD),
    "longer than the cap": token(HEADER, json.dumps({"x": "a" * MAX_TOKEN_LENGTH})),
}
"""Tokens that pyjwt 2.15 decodes and this decoder rejects, on purpose."""


LENIENT_BEFORE_PYJWT_2_10 = frozenset(
    {
        "standard alphabet",
        "junk characters",
        "set trailing bits",
        "non-ascii character",
        "deep nesting",
    }
)
"""Cases that pyjwt 2.8, the oldest supported, decodes (or crashes on) where
newer pyjwt rejects them. This decoder rejects them whatever pyjwt does."""

PYJWT_VERSION = tuple(int(part) for part in jwt.__version__.split(".")[:2])


@pytest.mark.parametrize(("name", "value"), AGREED.items(), ids=AGREED.keys())
def test_agrees_with_pyjwt(name: str, value: str) -> None:
    if name in LENIENT_BEFORE_PYJWT_2_10 and PYJWT_VERSION < (2, 10):
        assert ours(value) is None
        return
    assert ours(value) == pyjwt(value)


def test_table_has_accepted_tokens() -> None:
    accepted = [name for name, value in AGREED.items() if ours(value) is not None]
    assert accepted == ["good", "empty signature", "unicode claim", "empty objects"]


@pytest.mark.parametrize("value", STRICTER.values(), ids=STRICTER.keys())
def test_stricter_than_pyjwt(value: str) -> None:
    assert pyjwt(value) is not None
    with pytest.raises(TokenCheckError, match="not a valid JWT") as info:
        decode_unverified(value)
    assert info.value.claim is None


def test_decodes_header_and_claims() -> None:
    header, claims = decode_unverified(GOOD)
    assert header == {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    assert claims == {"aud": "a", "exp": 1790003600, "email": "x@y.z"}


def test_non_string_rejected() -> None:
    with pytest.raises(TokenCheckError, match="bytes, not a string"):
        decode_unverified(GOOD.encode())  # type: ignore[arg-type]


def test_message_hides_payload() -> None:
    secret = token(HEADER, '["secret-value"]')
    with pytest.raises(TokenCheckError) as info:
        decode_unverified(secret)
    assert "secret-value" not in str(info.value)
    assert segment('["secret-value"]') not in str(info.value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
SEGMENT_TEXT = st.text(alphabet="ABCDEFabcdef0123456789-_=+/.! \u00e9", max_size=24)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4),
    st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4),
    st.binary(max_size=64),
)
def test_encoded_objects_decode_alike(
    header: dict[str, Any], claims: dict[str, Any], signature: bytes
) -> None:
    value = token(json.dumps(header), json.dumps(claims), segment(signature))
    if "crit" in header:
        # Rejected on purpose whatever its value, because pyjwt's result
        # varies by version (2.8 accepts "crit": null).
        assert ours(value) is None
        return
    expected = pyjwt(value)
    assert ours(value) == expected
    if expected is not None:
        assert expected == (header, claims)


@settings(max_examples=500, deadline=None)
@given(st.lists(SEGMENT_TEXT, min_size=1, max_size=4))
def test_arbitrary_text_never_looser(parts: list[str]) -> None:
    value = ".".join(parts)
    decoded = ours(value)
    if decoded is not None:
        assert decoded == pyjwt(value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=32), st.binary(max_size=32), st.binary(max_size=16))
def test_arbitrary_bytes_never_looser(
    header: bytes, payload: bytes, signature: bytes
) -> None:
    value = token(header, payload, segment(signature))
    decoded = ours(value)
    if decoded is not None:
        assert decoded == pyjwt(value)
