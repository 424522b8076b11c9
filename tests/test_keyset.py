"""KeySet: formats, Cache-Control, and fetching again for unknown key IDs."""

from __future__ import annotations

import json
import threading
import time

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from posos_jwt import KeySet, KeySetError, UnknownKeyError, verify_id_token
from posos_jwt._keyset import (
    MAX_KEYS_CACHE_TIME,
    MIN_KEYS_CACHE_TIME,
    UNKNOWN_KEY_REFETCH_INTERVAL,
    cache_lifetime,
)
from posos_jwt.testing import Fault, GoogleStandIn
from tests.clocks import ShiftedClock
from tests.forgery import b64url, with_header

EMAIL = "keys@posos-standin.iam.gserviceaccount.com"


def published_jwks(standin: GoogleStandIn) -> dict[str, list[dict[str, str]]]:
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        document: dict[str, list[dict[str, str]]] = json.loads(
            http.request("GET", standin.jwks_uri).data
        )
    return document


def other_rsa_jwk(kid: str) -> dict[str, str]:
    numbers = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "n": b64url(numbers.n.to_bytes(256, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }


def serve_once(standin: GoogleStandIn, document: object, cache_control: str) -> None:
    """Make the next request for the keys return ``document``."""
    fault = Fault(
        status=200, body=json.dumps(document), headers={"Cache-Control": cache_control}
    )
    standin.push_fault("certs", fault)


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [
        ({"Cache-Control": "public, max-age=21600, must-revalidate"}, 21600),
        ({"Cache-Control": "max-age=3600", "Age": "600"}, 3000),
        ({"Cache-Control": "max-age=5"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=999999"}, MAX_KEYS_CACHE_TIME),
        ({"Cache-Control": "no-cache, max-age=3600"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "no-store"}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=soon"}, MIN_KEYS_CACHE_TIME),
        ({}, MIN_KEYS_CACHE_TIME),
        ({"Cache-Control": "max-age=600", "Age": "junk"}, MIN_KEYS_CACHE_TIME),
    ],
)
def test_cache_lifetime(headers: dict[str, str], lifetime: float) -> None:
    assert cache_lifetime(headers) == lifetime


def test_keys_kept_for_max_age(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    verify_id_token(token, standin.iap_client_id, key_set=key_set)
    clock.offset = 21600 - 10
    verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 1
    clock.offset = 21600 + 1
    verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 2


def test_no_cache_kept_for_floor(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    document = published_jwks(standin)
    kid = document["keys"][0]["kid"]
    serve_once(standin, document, "no-cache, max-age=0")
    standin.reset_counts()
    key_set.get_key(kid)
    clock.offset = MIN_KEYS_CACHE_TIME - 1
    key_set.get_key(kid)
    assert standin.count("certs") == 1
    clock.offset = MIN_KEYS_CACHE_TIME + 1
    key_set.get_key(kid)
    assert standin.count("certs") == 2


def test_forged_kids_fetch_once_per_interval(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    for number in range(100):
        forged = with_header(token, kid=f"forged-{number}")
        with pytest.raises(UnknownKeyError, match=f"kid 'forged-{number}'"):
            verify_id_token(forged, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 1

    clock.offset = UNKNOWN_KEY_REFETCH_INTERVAL + 1
    for number in range(100):
        forged = with_header(token, kid=f"forged-{number}")
        with pytest.raises(UnknownKeyError, match="try again in 30 s"):
            verify_id_token(forged, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 2


def test_new_key_picked_up_after_interval(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    # The first fetch returns an older key set without the current key.
    serve_once(standin, {"keys": [other_rsa_jwk("old-key")]}, "max-age=21600")
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    with pytest.raises(UnknownKeyError, match=r"\(key IDs: old-key\)"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)

    clock.offset = UNKNOWN_KEY_REFETCH_INTERVAL + 1
    claims = verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert claims["email"] == EMAIL
    assert standin.count("certs") == 2


def test_refresh_fetches(standin: GoogleStandIn) -> None:
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    assert key_set.key_ids == frozenset()
    key_set.refresh()
    key_set.refresh()
    assert standin.count("certs") == 2
    assert len(key_set.key_ids) == 1


def test_unusable_jwks_skipped(
    standin: GoogleStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    good = published_jwks(standin)["keys"][0]
    point = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    entries: list[object] = [
        "not an object",
        {"kty": "RSA", "n": good["n"], "e": good["e"]},  # no kid
        {**good, "kid": "encryption", "use": "enc"},
        {**good, "kid": "private", "d": "AQAB"},
        {**good, "kid": "bad-number", "n": "!!"},
        {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
        {
            "kty": "EC",
            "kid": "p384",
            "crv": "P-384",
            "x": b64url(point.x.to_bytes(48, "big")),
            "y": b64url(point.y.to_bytes(48, "big")),
        },
        {"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": "AA", "y": "AA"},
        good,
    ]
    serve_once(standin, {"keys": entries}, "max-age=600")
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    key_set.refresh()
    assert key_set.key_ids == {good["kid"]}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert warnings[0].startswith("skipped JWK bad-number, which is not a valid key")
    assert warnings[1].startswith("skipped JWK off-curve, which is not a valid key")


def test_invalid_certificate_skipped(
    standin: GoogleStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with urllib3.PoolManager(ca_certs=standin.ca_bundle) as http:
        certificates = json.loads(http.request("GET", standin.certs_v1_uri).data)
    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    serve_once(standin, {**certificates, "broken": broken}, "max-age=600")
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    key_set.refresh()
    assert key_set.key_ids == set(certificates)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "skipped certificate broken, which is not a valid PEM certificate: ValueError"
    ]


def test_duplicate_kid_rejected(standin: GoogleStandIn) -> None:
    good = published_jwks(standin)["keys"][0]
    serve_once(standin, {"keys": [good, good]}, "max-age=600")
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle)
    with pytest.raises(KeySetError, match=f"publishes key ID {good['kid']} twice"):
        key_set.refresh()


def test_fetch_does_not_block_cached_key(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    verify_id_token(token, standin.iap_client_id, key_set=key_set)
    clock.offset = UNKNOWN_KEY_REFETCH_INTERVAL + 1
    standin.push_fault("certs", Fault(delay=1.0))
    forged = with_header(token, kid="forged")
    errors: list[Exception] = []

    def verify_forged() -> None:
        try:
            verify_id_token(forged, standin.iap_client_id, key_set=key_set)
        except Exception as exc:  # checked after join
            errors.append(exc)

    refetch = threading.Thread(target=verify_forged)
    refetch.start()
    for _ in range(500):
        if standin.count("certs") == 2:
            break
        time.sleep(0.01)
    assert standin.count("certs") == 2

    # The slow fetch for the forged key ID is still running, and a token whose
    # key is cached verifies meanwhile.
    claims = verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert refetch.is_alive()
    assert claims["email"] == EMAIL
    refetch.join()
    assert len(errors) == 1
    assert isinstance(errors[0], UnknownKeyError)


def test_expired_keys_not_used_after_failure(standin: GoogleStandIn) -> None:
    clock = ShiftedClock()
    key_set = KeySet(standin.jwks_uri, ca_bundle=standin.ca_bundle, clock=clock)
    token = standin.issue_id_token(standin.iap_client_id, EMAIL)
    verify_id_token(token, standin.iap_client_id, key_set=key_set)
    clock.offset = 21600 + 1
    standin.push_fault("certs", Fault(status=503, body="unavailable"))
    with pytest.raises(KeySetError, match="returned HTTP 503"):
        verify_id_token(token, standin.iap_client_id, key_set=key_set)
    clock.offset += UNKNOWN_KEY_REFETCH_INTERVAL
    assert verify_id_token(token, standin.iap_client_id, key_set=key_set)
    assert standin.count("certs") == 3
