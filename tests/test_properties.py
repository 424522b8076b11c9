"""Property tests: the key-file loader and the token-response parser, fed
arbitrary and near-valid input, either succeed or raise posos-jwt's own error,
and no message quotes a secret."""

from __future__ import annotations

import email.utils
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posos_jwt import (
    ConfigurationError,
    PososJWTError,
    ServiceAccountKey,
    TokenEndpointError,
)
from posos_jwt._exchange import parse_token_response
from posos_jwt._keyfile import parse_key_json
from posos_jwt._proxy import proxy_settings
from posos_jwt._transport import Response
from tests.support import SECRET_PATTERN, key_info

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Few examples per property, so that the suite stays fast; a failure that
hypothesis finds is replayed first on later runs from its database."""

VALID_KEY = key_info("service_account.json")
KEY_BODY_LINES = [
    line for line in VALID_KEY["private_key"].splitlines()[1:-1] if len(line) > 20
]
FAKE_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlLXNlY3JldA"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def assert_no_secret(error: BaseException) -> None:
    text = str(error) + repr(error)
    assert not SECRET_PATTERN.search(text), text
    for line in KEY_BODY_LINES:
        assert line not in text


def load_key(info: Any) -> None:
    try:
        ServiceAccountKey.from_info(info)
    except PososJWTError as exc:
        assert_no_secret(exc)


def parse_key_bytes(data: bytes) -> None:
    try:
        parse_key_json(data)
    except PososJWTError as exc:
        assert_no_secret(exc)


@EXAMPLES
@given(st.binary(max_size=200))
def test_key_json_arbitrary_bytes(data: bytes) -> None:
    parse_key_bytes(data)


@EXAMPLES
@given(json_values)
def test_key_json_any_json_value(value: object) -> None:
    parse_key_bytes(json.dumps(value).encode("utf-8"))


@EXAMPLES
@given(json_values)
def test_key_info_any_json_value(value: object) -> None:
    load_key(value)


def pem_mutations() -> st.SearchStrategy[str]:
    """The valid PEM cut, with a character changed, or with its armour moved."""
    pem = VALID_KEY["private_key"]
    cut = st.integers(0, len(pem)).map(lambda end: pem[:end])
    changed = st.tuples(st.integers(0, len(pem) - 1), st.characters()).map(
        lambda change: pem[: change[0]] + change[1] + pem[change[0] + 1 :]
    )
    escaped = st.just(pem.replace("\n", "\\n"))
    armour = st.sampled_from(["RSA PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY"]).map(
        lambda label: pem.replace("PRIVATE KEY", label)
    )
    return cut | changed | escaped | armour | st.text(max_size=80)


@st.composite
def near_valid_key_infos(draw: st.DrawFn) -> dict[str, object]:
    info: dict[str, object] = dict(VALID_KEY)
    for name in draw(st.lists(st.sampled_from(sorted(info)), max_size=3)):
        action = draw(st.sampled_from(["drop", "replace", "empty"]))
        if action == "drop":
            info.pop(name, None)
        elif action == "empty":
            info[name] = ""
        else:
            info[name] = draw(json_values)
    if draw(st.booleans()):
        info["private_key"] = draw(pem_mutations())
    return info


@settings(EXAMPLES, max_examples=30)
@given(near_valid_key_infos())
def test_key_info_near_valid(info: dict[str, object]) -> None:
    load_key(info)


statuses = st.sampled_from([200, 200, 400, 401, 403, 429, 500, 502, 503]) | st.integers(
    100, 599
)
header_values = st.text(max_size=40) | st.builds(
    lambda moment: email.utils.formatdate(moment, usegmt=True),
    st.floats(-1e10, 1e11),
)
headers = st.dictionaries(
    st.sampled_from(["Date", "Retry-After", "Content-Type"]), header_values
)


def parse_response(status: int, header_map: dict[str, str], body: bytes) -> None:
    response = Response(status=status, headers=header_map, body=body, host="h")
    error: TokenEndpointError | None = None
    try:
        token = parse_token_response(response)
    except TokenEndpointError as exc:
        error = exc
    if error is None:
        assert token
        return
    assert_no_secret(error)
    assert error.status == status


@EXAMPLES
@given(statuses, headers, st.binary(max_size=200))
def test_token_response_arbitrary_bytes(
    status: int, header_map: dict[str, str], body: bytes
) -> None:
    parse_response(status, header_map, body)


@EXAMPLES
@given(statuses, headers, json_values)
def test_token_response_any_json(
    status: int, header_map: dict[str, str], value: object
) -> None:
    parse_response(status, header_map, json.dumps(value).encode("utf-8"))


error_codes = st.sampled_from(
    ["invalid_grant", "invalid_scope", "disabled_client", "internal_failure"]
) | st.text(max_size=20)
descriptions = st.sampled_from(
    [
        "Invalid JWT Signature.",
        "Invalid grant: account not found",
        "Invalid JWT: Token must be a short-lived token (60 minutes)",
        f"echo {FAKE_JWT}",
    ]
) | st.text(max_size=40)


@st.composite
def near_valid_documents(draw: st.DrawFn) -> dict[str, object]:
    document: dict[str, object] = {}
    if draw(st.booleans()):
        document["error"] = draw(error_codes | json_values)
    if draw(st.booleans()):
        document["error_description"] = draw(descriptions | json_values)
    if draw(st.booleans()):
        document["id_token"] = draw(st.just(FAKE_JWT) | json_values)
    if draw(st.booleans()):
        # A field name is server text too, and may echo the assertion.
        document[draw(st.sampled_from([FAKE_JWT, "access_token"]))] = FAKE_JWT
    return document


@EXAMPLES
@given(statuses, headers, near_valid_documents())
def test_token_response_near_valid(
    status: int, header_map: dict[str, str], document: dict[str, object]
) -> None:
    parse_response(status, header_map, json.dumps(document).encode("utf-8"))


@EXAMPLES
@given(headers, near_valid_documents())
def test_success_status_near_valid(
    header_map: dict[str, str], document: dict[str, object]
) -> None:
    parse_response(200, header_map, json.dumps(document).encode("utf-8"))


PROXY_PASSWORD = "Zq9-proxy-secret"

proxy_urls = st.builds(
    lambda scheme, user, host, port: f"{scheme}{user}:{PROXY_PASSWORD}@{host}:{port}",
    st.sampled_from(["http://", "https://", "", "socks5://"]),
    st.text(max_size=10),
    st.text(max_size=15),
    st.text(max_size=6),
)


@EXAMPLES
@given(proxy_urls, st.text(max_size=40))
def test_proxy_settings_hide_password(proxy: str, no_proxy: str) -> None:
    environ = {"NO_PROXY": no_proxy}
    error: ConfigurationError | None = None
    try:
        found = proxy_settings(proxy, trust_env=True, environ=environ)
    except ConfigurationError as exc:
        error = exc
    if error is None:
        assert found is not None
        assert PROXY_PASSWORD not in repr(found) + found.display_url + found.url
        return
    assert PROXY_PASSWORD not in str(error)
