"""Verify Google ID tokens and IAP's signed header against Google's published keys.

A token that arrives from anywhere but our own request to the token endpoint
must be verified before any claim is trusted. The steps run in this order, and
each failure raises its own :class:`VerificationError`:

1. Split the compact JWT and decode its header (``MalformedTokenError``).
2. Require the one algorithm fixed for the kind of token, whatever the header
   names: RS256 for ID tokens, ES256 for IAP (``TokenAlgorithmError``). This is
   what rejects ``alg: none`` and HS256 signed with a public key as the secret.
3. Look the ``kid`` up in the published key set (``UnknownKeyError``), check
   that the key fits the algorithm (``KeySetError``), and verify the
   signature (``TokenSignatureError``).
4. Only then decode the claims, and check ``iss``, ``aud``, ``exp``, ``iat``
   and ``nbf`` with :data:`VERIFY_LEEWAY` of tolerance for clock differences.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ._arguments import (
    optional_instance,
    optional_path,
    optional_text,
    require_clock,
    require_text,
)
from ._base64url import decode_base64url
from ._clock import SYSTEM_CLOCK, Clock
from ._defaults import DEFAULT_TIMEOUT, GOOGLE_CERTS_URL, IAP_CERTS_URL
from ._errors import (
    ConfigurationError,
    KeySetError,
    MalformedTokenError,
    TokenAlgorithmError,
    TokenAudienceError,
    TokenExpiredError,
    TokenIssuerError,
    TokenLifetimeError,
    TokenNotYetValidError,
    TokenSignatureError,
)
from ._idtoken import finite_number, format_utc, show_value
from ._keyset import KeySet, PublishedKey, shared_key_set
from ._transport import Transport

logger = logging.getLogger(__name__)

GOOGLE_ISSUERS: Final = frozenset(
    {"https://accounts.google.com", "accounts.google.com"}
)
"""The ``iss`` values of Google ID tokens. Google's guide to verifying ID tokens
lists both forms."""

IAP_ISSUER: Final = "https://cloud.google.com/iap"
"""The ``iss`` of IAP's signed header."""

ID_TOKEN_ALGORITHM: Final = "RS256"
"""The only algorithm accepted for Google ID tokens."""

IAP_ALGORITHM: Final = "ES256"
"""The only algorithm accepted for IAP's signed header."""

VERIFY_LEEWAY: Final = 30.0
"""Seconds of tolerance on ``exp``, ``iat`` and ``nbf``: the clock skew that
Google's guide to IAP signed headers allows
(https://cloud.google.com/iap/docs/signed-headers-howto). ID tokens get the
same, because NTP-synchronised clocks agree far better than that."""

MAX_CLAIM_TIME: Final = 253402300799
"""Latest ``exp``, ``iat`` or ``nbf`` accepted: 9999-12-31T23:59:59Z, the last
second that a Python datetime holds. A time claim outside 0 to this is
malformed, so no later step compares or prints a number too large for a float."""

IAP_MAX_LIFETIME: Final = 600.0
"""Maximum seconds from ``iat`` to ``exp`` of IAP's signed header, before the
leeway: Google's guide to IAP signed headers allows 10 minutes plus twice the
clock skew."""

MIN_RSA_KEY_SIZE: Final = 2048
"""Smallest RSA key accepted for a signature: Google's keys have 2048 bits."""

MAX_TOKEN_LENGTH: Final = 16 * 1024
"""Maximum length of an accepted token, in characters. Google's ID tokens and
IAP's headers are about 1 KB, and the bound keeps hostile input cheap to reject."""

_IAP_AUDIENCE: Final = re.compile(
    r"/projects/[0-9]+/(apps/[^/\s]+|global/backendServices/[0-9]+)"
)
"""IAP's ``aud``: ``/projects/NUMBER/apps/PROJECT_ID`` for App Engine, or
``/projects/NUMBER/global/backendServices/SERVICE_ID`` for a load balancer."""

_VERIFIERS: Final = {
    ID_TOKEN_ALGORITHM: RSAAlgorithm(RSAAlgorithm.SHA256),
    IAP_ALGORITHM: ECAlgorithm(ECAlgorithm.SHA256),
}
"""pyjwt's signature primitives for the two algorithms, used directly so that
the algorithm is chosen here and never by the token's header."""


@dataclass(frozen=True)
class _Rules:
    """The algorithm, issuers and audience that one kind of token must have."""

    kind: str
    algorithm: str
    issuers: Collection[str]
    audience: str
    max_lifetime: float | None = None


def decode_unverified_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode a JWT's header and claims without verifying anything.

    Use it to look inside a token, never to trust one: anybody can write a
    token that decodes.

    Args:
        token: A compact JWT.

    Returns:
        The header and the claims.

    Raises:
        ConfigurationError: ``token`` is not a string.
        MalformedTokenError: ``token`` is not a compact JWT whose header and
            payload are JSON objects.
    """
    require_text(token, "token", "pass the compact JWT as str")
    parts = _split(token)
    return _json_segment(parts[0], "header"), _json_segment(parts[1], "payload")


def verify_id_token(
    token: str,
    audience: str,
    *,
    certs_url: str | None = None,
    key_set: KeySet | None = None,
    transport: Transport | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    leeway: float = VERIFY_LEEWAY,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Any]:
    """Verify a Google-signed ID token and return its claims.

    The signature must be RS256 by a key that Google publishes, ``iss`` one of
    :data:`GOOGLE_ISSUERS`, ``aud`` equal to ``audience``, and the token
    within its ``iat``, ``nbf`` and ``exp`` give or take ``leeway``.

    Without ``key_set``, the keys come from a process-wide :class:`KeySet` per
    URL and connection options, so repeated calls fetch them once per cache
    period.

    Args:
        token: The compact JWT. It is a bearer credential: never log it.
        audience: The expected ``aud``: the OAuth client ID the token is for.
        certs_url: The keys URL, a JWK set or a map of key IDs to PEM
            certificates. Defaults to :data:`GOOGLE_CERTS_URL`.
        key_set: A key set to use instead of the shared one; ``certs_url``,
            ``transport``, ``ca_bundle`` and ``timeout`` must not be given
            with it.
        transport: The transport to fetch the keys through (proxy, CA bundle
            and timeouts included).
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's, when ``transport`` is not given.
        timeout: Seconds allowed to connect, and again for each read, when
            ``transport`` is not given.
        leeway: Seconds of tolerance on ``exp``, ``iat`` and ``nbf``.
        clock: The clock that the time claims are checked against.

    Returns:
        The verified claims.

    Raises:
        ConfigurationError: An argument is invalid (``leeway`` negative, for
            example) or the options conflict.
        MalformedTokenError: The token is not a JWT, or a claim has the wrong
            type.
        TokenAlgorithmError: The header's ``alg`` is not RS256.
        UnknownKeyError: The header's ``kid`` names no published key.
        KeySetError: The keys could not be fetched or read.
        TokenSignatureError: The signature does not match.
        TokenIssuerError: ``iss`` is not Google.
        TokenAudienceError: ``aud`` is not ``audience``.
        TokenExpiredError: ``exp`` has passed.
        TokenNotYetValidError: ``iat`` or ``nbf`` is in the future.
        TransportError: The request for the keys failed below HTTP.

    Example::

        claims = posos_jwt.verify_id_token(
            token, "1234-abc.apps.googleusercontent.com"
        )
    """
    require_text(token, "token", "pass the compact JWT as str")
    require_text(audience, "audience", "pass the OAuth client ID")
    _check_verify_options(certs_url, key_set, transport, ca_bundle, clock)
    audience = _check_audience_argument(audience)
    rules = _Rules("ID token", ID_TOKEN_ALGORITHM, GOOGLE_ISSUERS, audience)
    keys = _choose_key_set(
        key_set, certs_url, GOOGLE_CERTS_URL, transport, ca_bundle, timeout
    )
    return _verify(token, rules, keys, leeway, clock)


def verify_iap_jwt(
    assertion: str,
    expected_audience: str,
    *,
    certs_url: str | None = None,
    key_set: KeySet | None = None,
    transport: Transport | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    leeway: float = VERIFY_LEEWAY,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Any]:
    """Verify IAP's signed header, ``x-goog-iap-jwt-assertion``, and return its claims.

    A service behind IAP calls this on every request, because the header
    proves that the request came through IAP and names the user. The
    signature must be ES256 by a key at :data:`IAP_CERTS_URL`, ``iss``
    :data:`IAP_ISSUER`, ``aud`` equal to ``expected_audience``, and the token
    within its ``iat``, ``nbf`` and ``exp`` give or take ``leeway``. Keys are
    cached as for :func:`verify_id_token`.

    Args:
        assertion: The header's value, a compact JWT.
        expected_audience: This service's audience,
            ``/projects/NUMBER/apps/PROJECT_ID`` or
            ``/projects/NUMBER/global/backendServices/SERVICE_ID``.
        certs_url: The keys URL. Defaults to :data:`IAP_CERTS_URL`.
        key_set: A key set to use instead of the shared one.
        transport: The transport to fetch the keys through.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's, when ``transport`` is not given.
        timeout: Seconds allowed to connect, and again for each read, when
            ``transport`` is not given.
        leeway: Seconds of tolerance on ``exp``, ``iat`` and ``nbf``.
        clock: The clock that the time claims are checked against.

    Returns:
        The verified claims, with ``email`` and ``sub`` of the user.

    Raises:
        ConfigurationError: ``expected_audience`` has neither form, or another
            argument is invalid.
        MalformedTokenError: The header is not a JWT, or a claim has the
            wrong type.
        TokenAlgorithmError: The header's ``alg`` is not ES256.
        UnknownKeyError: The header's ``kid`` names no published key.
        KeySetError: The keys could not be fetched or read.
        TokenSignatureError: The signature does not match.
        TokenIssuerError: ``iss`` is not IAP.
        TokenAudienceError: ``aud`` is not ``expected_audience``.
        TokenExpiredError: ``exp`` has passed.
        TokenLifetimeError: ``exp`` is more than :data:`IAP_MAX_LIFETIME`
            plus twice ``leeway`` after ``iat``.
        TokenNotYetValidError: ``iat`` or ``nbf`` is in the future.
        TransportError: The request for the keys failed below HTTP.
    """
    require_text(assertion, "assertion", "pass the header's value as str")
    require_text(expected_audience, "expected_audience", "pass /projects/...")
    _check_verify_options(certs_url, key_set, transport, ca_bundle, clock)
    audience = _check_audience_argument(expected_audience)
    if not _IAP_AUDIENCE.fullmatch(audience):
        raise ConfigurationError(
            f"IAP audience {audience!r} has neither form /projects/NUMBER/apps/"
            "PROJECT_ID nor /projects/NUMBER/global/backendServices/SERVICE_ID: "
            "copy it from the IAP page of the Cloud console"
        )
    rules = _Rules("IAP JWT", IAP_ALGORITHM, {IAP_ISSUER}, audience, IAP_MAX_LIFETIME)
    keys = _choose_key_set(
        key_set, certs_url, IAP_CERTS_URL, transport, ca_bundle, timeout
    )
    return _verify(assertion, rules, keys, leeway, clock)


def _check_verify_options(
    certs_url: object,
    key_set: object,
    transport: object,
    ca_bundle: object,
    clock: object,
) -> None:
    """Check the types of the options of both verify functions; ``timeout``
    and ``leeway`` are checked where they are used, before any request."""
    optional_text(certs_url, "certs_url", "pass an https:// URL")
    optional_instance(key_set, KeySet, "key_set")
    optional_instance(transport, Transport, "transport")
    optional_path(ca_bundle, "ca_bundle")
    require_clock(clock)


def _check_leeway(leeway: object) -> float:
    seconds = finite_number(leeway)
    if seconds is None or seconds < 0:
        raise ConfigurationError(
            f"leeway must be a number of seconds, 0 or more, not {show_value(leeway)}"
        )
    return seconds


def _check_audience_argument(audience: object) -> str:
    if not isinstance(audience, str) or not audience.strip():
        raise ConfigurationError(
            f"expected audience must be a non-empty string, not {audience!r}: "
            "give the audience that the token must name in its aud claim"
        )
    return audience


def _choose_key_set(
    key_set: KeySet | None,
    certs_url: str | None,
    default_url: str,
    transport: Transport | None,
    ca_bundle: str | os.PathLike[str] | None,
    timeout: float,
) -> KeySet:
    if key_set is None:
        return shared_key_set(
            default_url if certs_url is None else certs_url,
            transport=transport,
            ca_bundle=ca_bundle,
            timeout=timeout,
        )
    given = certs_url is not None or transport is not None or ca_bundle is not None
    if given or timeout != DEFAULT_TIMEOUT:
        raise ConfigurationError(
            "give either key_set= or certs_url=, transport=, ca_bundle= and "
            "timeout=, not both: a key set brings its own URL and transport"
        )
    return key_set


def _verify(
    token: str,
    rules: _Rules,
    key_set: KeySet,
    leeway: float,
    clock: Clock,
) -> dict[str, Any]:
    if not isinstance(token, str):
        raise MalformedTokenError(
            f"{rules.kind} must be a string, not {type(token).__name__}",
            claim=None,
        )
    leeway = _check_leeway(leeway)
    parts = _split(token)
    header = _json_segment(parts[0], "header")
    _check_header(header, rules)
    key = key_set.get_key(header["kid"])
    _check_key_type(key, rules, key_set.url)
    _check_signature(parts, key, rules)

    # The claims are decoded only now, so that no claim of a forged token is
    # ever read.
    claims = _json_segment(parts[1], "payload")
    now = clock.time()
    _check_issuer(claims, rules)
    _check_audience(claims, rules)
    _check_times(claims, now, leeway, rules)
    logger.debug(
        "verified %s for audience %s from issuer %s with key %s",
        rules.kind,
        rules.audience,
        claims.get("iss"),
        key.key_id,
    )
    return claims


def _split(token: str) -> list[str]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedTokenError(
            f"token is {len(token)} characters long, more than the "
            f"{MAX_TOKEN_LENGTH} accepted: check that the input is one JWT",
            claim=None,
        )
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise MalformedTokenError(
            f"token is not a JWT: it has {len(parts)} dot-separated parts, not 3 "
            "(header.payload.signature); check that the input is the whole token",
            claim=None,
        )
    # Each segment is checked before any key is fetched, and only its canonical
    # encoding is accepted, so that no two strings verify as one token.
    for name, segment in zip(("header", "payload", "signature"), parts, strict=True):
        try:
            decode_base64url(segment)
        except ValueError:
            # The segment itself is never quoted: the token is a secret.
            raise MalformedTokenError(
                f"token {name} is not canonical unpadded base64url: check that "
                "the input is the whole token, unchanged",
                claim=None,
            ) from None
    return parts


def _json_segment(segment: str, name: str) -> dict[str, Any]:
    try:
        document = json.loads(decode_base64url(segment))
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        # The segment itself is never quoted: the payload is part of a secret.
        raise MalformedTokenError(
            f"token {name} is not a base64url-encoded JSON object: check that "
            "the input is the whole token",
            claim=None,
        )
    return document


def _check_header(header: Mapping[str, Any], rules: _Rules) -> None:
    algorithm = header.get("alg")
    if algorithm != rules.algorithm:
        raise TokenAlgorithmError(
            f"{rules.kind} header alg is {show_value(algorithm)}, but only "
            f"{rules.algorithm} is accepted: the token was not signed by Google",
            claim="alg",
            expected=rules.algorithm,
            actual=show_value(algorithm),
        )
    if "crit" in header:
        # RFC 7515, section 4.1.11: a header extension that the verifier does
        # not understand must make the token invalid.
        raise MalformedTokenError(
            f"{rules.kind} header has a crit member, which Google never sets: "
            "the token was not signed by Google",
            claim="crit",
            expected="absent",
            actual=show_value(header["crit"]),
        )
    key_id = header.get("kid")
    if not isinstance(key_id, str) or not key_id:
        raise MalformedTokenError(
            f"{rules.kind} header kid is {show_value(key_id)}, not a key ID: Google "
            "names its signing key in every token",
            claim="kid",
            expected="a key ID",
            actual=show_value(key_id),
        )


def _check_key_type(key: PublishedKey, rules: _Rules, url: str) -> None:
    public_key = key.public_key
    if rules.algorithm == ID_TOKEN_ALGORITHM:
        fits = (
            isinstance(public_key, rsa.RSAPublicKey)
            and public_key.key_size >= MIN_RSA_KEY_SIZE
        )
        needed = f"an RSA key of at least {MIN_RSA_KEY_SIZE} bits"
    else:
        fits = isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
            public_key.curve, ec.SECP256R1
        )
        needed = "an EC key on P-256"
    if key.algorithm not in (None, rules.algorithm):
        fits = False
    if not fits:
        raise KeySetError(
            f"key {key.key_id} at {url} cannot verify {rules.algorithm}, which "
            f"needs {needed}: check that the keys URL publishes the keys for "
            f"this kind of token ({rules.kind})",
            url=url,
        )


def _check_signature(parts: list[str], key: PublishedKey, rules: _Rules) -> None:
    # _split has checked that every segment is base64url, so it is ASCII.
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    signature = decode_base64url(parts[2])
    verifier = _VERIFIERS[rules.algorithm]
    if not signature or not verifier.verify(signing_input, key.public_key, signature):
        raise TokenSignatureError(
            f"{rules.kind} signature does not match key {key.key_id}: the token "
            "was changed or forged, so reject the request",
            claim=None,
        )


def _check_issuer(claims: Mapping[str, Any], rules: _Rules) -> None:
    issuer = claims.get("iss")
    # The type is checked first: a list or an object cannot be looked up in a
    # set of strings.
    _check_claim_type(issuer, "iss", rules)
    if issuer not in rules.issuers:
        expected = " or ".join(sorted(rules.issuers))
        raise TokenIssuerError(
            f"{rules.kind} iss is {show_value(issuer)}, not {expected}: the token was "
            "not issued by Google for this purpose",
            claim="iss",
            expected=expected,
            actual=show_value(issuer),
        )


def _check_audience(claims: Mapping[str, Any], rules: _Rules) -> None:
    audience = rules.audience
    actual = claims.get("aud")
    # RFC 7519, section 4.1.3 allows a list of strings; Google sends one string.
    if isinstance(actual, list):
        for item in actual:
            _check_claim_type(item, "aud", rules)
        if audience in actual:
            return
    else:
        _check_claim_type(actual, "aud", rules)
        if actual == audience:
            return
    raise TokenAudienceError(
        f"{rules.kind} aud is {show_value(actual)}, not {audience!r}: the token was "
        f"issued for another audience, so request one for {audience!r}",
        claim="aud",
        expected=audience,
        actual=show_value(actual),
    )


def _check_claim_type(value: object, name: str, rules: _Rules) -> None:
    """Reject a claim that is present but not a string.

    An absent claim passes, so that the check of its value reports it.
    """
    if value is None or isinstance(value, str):
        return
    raise MalformedTokenError(
        f"{rules.kind} {name} claim is {show_value(value)}, not a string: the token "
        "was not issued by Google",
        claim=name,
        expected="a string",
        actual=show_value(value),
    )


def _check_times(
    claims: Mapping[str, Any], now: float, leeway: float, rules: _Rules
) -> None:
    expiry = _time_claim(claims, "exp", rules, required=True)
    issued_at = _time_claim(claims, "iat", rules, required=True)
    not_before = _time_claim(claims, "nbf", rules, required=False)
    if expiry is not None and now >= expiry + leeway:
        raise TokenExpiredError(
            f"{rules.kind} expired at {format_utc(expiry)} (exp), "
            f"{now - expiry:.0f} s before now ({format_utc(now)}), more than the "
            f"leeway of {leeway:g} s: get a new token",
            claim="exp",
            expected=f"after {format_utc(now - leeway)}",
            actual=format_utc(expiry),
        )
    _check_lifetime(expiry, issued_at, leeway, rules)
    for name, value in (("iat", issued_at), ("nbf", not_before)):
        if value is not None and value > now + leeway:
            raise TokenNotYetValidError(
                f"{rules.kind} {name} is {format_utc(value)}, {value - now:.0f} s "
                f"after now ({format_utc(now)}), more than the leeway of "
                f"{leeway:g} s: check this machine's clock",
                claim=name,
                expected=f"at most {format_utc(now + leeway)}",
                actual=format_utc(value),
            )


def _check_lifetime(
    expiry: float | None, issued_at: float | None, leeway: float, rules: _Rules
) -> None:
    if rules.max_lifetime is None or expiry is None or issued_at is None:
        return
    limit = rules.max_lifetime + 2 * leeway
    if expiry - issued_at > limit:
        raise TokenLifetimeError(
            f"{rules.kind} exp is {expiry - issued_at:.0f} s after iat, more "
            f"than the {limit:g} s that this kind of token lives: it was not "
            "issued by Google",
            claim="exp",
            expected=f"at most iat + {limit:g} s",
            actual=f"iat + {expiry - issued_at:.0f} s",
        )


def _time_claim(
    claims: Mapping[str, Any], name: str, rules: _Rules, *, required: bool
) -> float | None:
    value: object = claims.get(name)
    if value is None and not required:
        return None
    seconds = finite_number(value)
    if seconds is None or not 0 <= seconds <= MAX_CLAIM_TIME:
        raise MalformedTokenError(
            f"{rules.kind} {name} claim is {show_value(value)}, not a number of "
            f"seconds since the epoch from 0 to {MAX_CLAIM_TIME}: the token was "
            "not issued by Google",
            claim=name,
            expected=f"a number from 0 to {MAX_CLAIM_TIME}",
            actual=show_value(value),
        )
    return seconds
