"""verify_id_token against the stand-in's published keys, over real HTTPS."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from posos_jwt import (
    ConfigurationError,
    KeySet,
    KeySetError,
    MalformedTokenError,
    TokenAlgorithmError,
    TokenAudienceError,
    TokenExpiredError,
    TokenIssuerError,
    TokenNotYetValidError,
    TokenSignatureError,
    TransportError,
    UnknownKeyError,
    VerificationError,
    decode_unverified_jwt,
    verify_iap_jwt,
    verify_id_token,
)
from posos_jwt.testing import Fault, GoogleStandIn
from tests.clocks import ShiftedClock
from tests.forgery import (
    hs256_with_secret,
    unsigned,
    with_header,
    with_payload_byte_changed,
)
from tests.support import SECRET_PATTERN

EMAIL = "verify@posos-standin.iam.gserviceaccount.com"


@pytest.fixture
def key_set(standin: GoogleStandIn) -> KeySet:
    return KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)


def id_token(standin: GoogleStandIn, **claims: Any) -> str:
    return standin.issue_id_token(standin.iap_client_id, EMAIL, **claims)


def public_key_pems(standin: GoogleStandIn) -> list[bytes]:
    """The signing key's certificate and public key, as PEM."""
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        certificates = json.loads(http.request("GET", standin.certs_v1_uri).data)
    certificate_pem = next(iter(certificates.values())).encode("ascii")
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    public_pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [certificate_pem, public_pem]


@pytest.mark.parametrize("url_name", ["jwks_uri", "certs_v1_uri"])
def test_token_verifies(standin: GoogleStandIn, url_name: str) -> None:
    url = getattr(standin, url_name)
    key_set = KeySet(url, ca_bundle=standin.ca_bundle)
    claims = verify_id_token(id_token(standin), standin.iap_client_id, key_set=key_set)
    assert claims["email"] == EMAIL
    assert claims["aud"] == standin.iap_client_id


def test_shared_key_set_by_url(standin: GoogleStandIn) -> None:
    token = id_token(standin)
    for _ in range(3):
        verify_id_token(
            token,
            standin.iap_client_id,
            certs_url=standin.jwks_uri,
            ca_bundle=standin.ca_bundle,
        )
    assert standin.count("certs") == 1


def test_issuer_without_scheme_accepted(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = id_token(standin, iss="accounts.google.com")
    claims = verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert claims["iss"] == "accounts.google.com"


def test_expired_within_leeway_accepted(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = id_token(standin, lifetime=-10)
    claims = verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert claims["exp"] < claims["iat"]


def test_payload_byte_changed(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = with_payload_byte_changed(id_token(standin))
    with pytest.raises(TokenSignatureError, match="signature does not match key"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


def test_alg_none_rejected(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = unsigned(id_token(standin))
    with pytest.raises(TokenAlgorithmError, match="alg is 'none', but only RS256"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


def test_hs256_with_public_key_rejected(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    for secret in public_key_pems(standin):
        token = hs256_with_secret(id_token(standin), secret)
        with pytest.raises(TokenAlgorithmError, match="alg is 'HS256'") as info:
            verify_id_token(token, standin.iap_client_id, key_set=key_set)
        assert info.value.claim == "alg"
        assert info.value.actual == "'HS256'"


def test_wrong_audience(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = standin.issue_id_token("other-client", EMAIL)
    with pytest.raises(TokenAudienceError, match="aud is 'other-client', not") as info:
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert info.value.claim == "aud"
    assert info.value.expected == standin.iap_client_id
    assert info.value.actual == "'other-client'"


def test_expired(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin, lifetime=-120)
    with pytest.raises(TokenExpiredError, match=r"expired at .* \(exp\)") as info:
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert info.value.claim == "exp"


def test_leeway_is_configurable(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin, lifetime=-20)
    with pytest.raises(TokenExpiredError, match="leeway of 10 s"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set, leeway=10)


def test_clock_is_used(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin)
    with pytest.raises(TokenExpiredError, match="get a new token"):
        verify_id_token(
            token,
            standin.iap_client_id,
            key_set=key_set,
            clock=ShiftedClock(offset=3600 + 31),
        )


@pytest.mark.parametrize(
    ("claims", "error", "claim", "message"),
    [
        ({"iss": "https://evil.example"}, TokenIssuerError, "iss", "not accounts"),
        ({"iss": None}, TokenIssuerError, "iss", "iss is None"),
        ({"aud": None}, TokenAudienceError, "aud", "aud is None"),
        ({"aud": ["a", "b"]}, TokenAudienceError, "aud", r"aud is \['a', 'b'\]"),
        ({"exp": None}, MalformedTokenError, "exp", "exp claim is None"),
        ({"exp": "soon"}, MalformedTokenError, "exp", "exp claim is 'soon'"),
        ({"exp": True}, MalformedTokenError, "exp", "exp claim is True"),
        ({"iat": None}, MalformedTokenError, "iat", "iat claim is None"),
        ({"nbf": "later"}, MalformedTokenError, "nbf", "nbf claim is 'later'"),
    ],
)
def test_claim_rejected(
    standin: GoogleStandIn,
    key_set: KeySet,
    claims: dict[str, Any],
    error: type[VerificationError],
    claim: str,
    message: str,
) -> None:
    token = id_token(standin, **claims)
    with pytest.raises(error, match=message) as info:
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert info.value.claim == claim


def test_audience_list_accepted(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin, aud=["other", standin.iap_client_id])
    claims = verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert claims["aud"] == ["other", standin.iap_client_id]


@pytest.mark.parametrize(("claim", "offset"), [("iat", 600), ("nbf", 600)])
def test_not_yet_valid(
    standin: GoogleStandIn, key_set: KeySet, claim: str, offset: int
) -> None:
    time_claims = {claim: int(standin.now()) + offset}
    token = id_token(standin, lifetime=7200, **time_claims)
    with pytest.raises(TokenNotYetValidError, match=f"{claim} is .* after now") as info:
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert info.value.claim == claim


def test_unknown_kid(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = with_header(id_token(standin), kid="forged-key-id")
    with pytest.raises(
        UnknownKeyError, match="kid 'forged-key-id' names no key"
    ) as info:
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert info.value.actual == "forged-key-id"
    assert info.value.url == standin.jwks_uri


@pytest.mark.parametrize("kid", [None, "", 7])
def test_missing_kid(standin: GoogleStandIn, key_set: KeySet, kid: object) -> None:
    token = with_header(id_token(standin), kid=kid)
    with pytest.raises(MalformedTokenError, match=r"header kid is .*, not a key ID"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


def test_crit_header_rejected(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = with_header(id_token(standin), crit=["exp"])
    with pytest.raises(MalformedTokenError, match="crit member"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


def test_iap_token_rejected_as_id_token(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = standin.issue_iap_jwt(EMAIL)
    with pytest.raises(TokenAlgorithmError, match="alg is 'ES256', but only RS256"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)


def test_rsa_key_cannot_verify_es256(standin: GoogleStandIn) -> None:
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    token = with_header(standin.issue_iap_jwt(EMAIL), kid=id_token_kid(standin))
    with pytest.raises(KeySetError, match="cannot verify ES256, which needs an EC"):
        verify_iap_jwt(token, "/projects/1/apps/app", key_set=key_set)


def id_token_kid(standin: GoogleStandIn) -> str:
    header, _ = decode_unverified_jwt(id_token(standin))
    kid: str = header["kid"]
    return kid


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "has 1 dot-separated parts"),
        ("a.b", "has 2 dot-separated parts"),
        ("a.b.c.d", "has 4 dot-separated parts"),
        ("!!!.e30.sig", "header is not canonical unpadded base64url"),
        ("W10.e30.sig", "header is not a base64url-encoded JSON object"),
        ("x" * 20000, "more than the 16384 accepted"),
    ],
)
def test_malformed_token(key_set: KeySet, token: str, message: str) -> None:
    with pytest.raises(MalformedTokenError, match=message):
        verify_id_token(token, "client", key_set=key_set)


def test_malformed_payload_after_signature(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    header = id_token(standin).split(".")[0]
    with pytest.raises(TokenSignatureError):
        verify_id_token(f"{header}.bm90IGpzb24.c2ln", "client", key_set=key_set)


def test_thousand_verifications_one_fetch(
    standin: GoogleStandIn, key_set: KeySet
) -> None:
    token = id_token(standin)
    for _ in range(1000):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 1


def test_threads_share_one_fetch(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin)
    errors: list[BaseException] = []

    def verify_many() -> None:
        try:
            for _ in range(50):
                verify_id_token(token, standin.iap_client_id, key_set=key_set)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=verify_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert standin.count("certs") == 1


@pytest.mark.parametrize(
    ("make_call", "message"),
    [
        (
            lambda s, k: verify_id_token("t", "a", key_set=k, certs_url=s.jwks_uri),
            "either key_set= or certs_url=",
        ),
        (lambda s, k: verify_id_token("t", "", key_set=k), "non-empty string"),
        (
            lambda s, k: verify_id_token("a.b.c", "a", key_set=k, leeway=-1),
            "leeway must be a number of seconds, 0 or more, not -1",
        ),
        (
            lambda s, k: verify_id_token("t", "a", certs_url="http://127.0.0.1/c"),
            "is not an https URL",
        ),
        (
            lambda s, k: KeySet(s.jwks_uri, transport=k.transport, timeout=3),
            "either transport= or ca_bundle=",
        ),
    ],
)
def test_configuration_rejected(
    standin: GoogleStandIn,
    key_set: KeySet,
    make_call: Callable[[GoogleStandIn, KeySet], object],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_call(standin, key_set)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(status=503, body="backend down"), "returned HTTP 503: 'backend down'"),
        (Fault(status=200, body="<html>"), "body that is not a JSON object"),
        (Fault(status=200, body='{"keys": []}'), "no usable signing key"),
        (Fault(status=200, body='{"kid": 5}'), "neither a JWK set"),
    ],
)
def test_key_set_unusable(
    standin: GoogleStandIn, key_set: KeySet, fault: Fault, message: str
) -> None:
    standin.push_fault("certs", fault)
    with pytest.raises(KeySetError, match=message) as info:
        verify_id_token(id_token(standin), standin.iap_client_id, key_set=key_set)
    assert info.value.url == standin.jwks_uri


def test_key_set_connection_dropped(standin: GoogleStandIn, key_set: KeySet) -> None:
    standin.push_fault("certs", Fault(drop=True))
    with pytest.raises(TransportError, match=r"127\.0\.0\.1"):
        verify_id_token(id_token(standin), standin.iap_client_id, key_set=key_set)


def test_no_secret_in_errors(standin: GoogleStandIn, key_set: KeySet) -> None:
    token = id_token(standin)
    forged = [
        with_payload_byte_changed(token),
        unsigned(token),
        hs256_with_secret(token, b"secret"),
        with_header(token, kid="forged"),
        standin.issue_id_token("other", EMAIL),
        id_token(standin, lifetime=-600),
    ]
    for candidate in forged:
        with pytest.raises(VerificationError) as info:
            verify_id_token(candidate, standin.iap_client_id, key_set=key_set)
        assert not SECRET_PATTERN.search(str(info.value))
        assert candidate.split(".")[1] not in str(info.value)


def test_key_set_repr_names_keys_only(standin: GoogleStandIn, key_set: KeySet) -> None:
    verify_id_token(id_token(standin), standin.iap_client_id, key_set=key_set)
    text = repr(key_set)
    assert (
        text == f"KeySet(url={standin.jwks_uri!r}, key_ids=[{id_token_kid(standin)!r}])"
    )
