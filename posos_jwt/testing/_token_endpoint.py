"""The stand-in for Google's token endpoint, POST /token.

It serves the JWT-bearer grant of RFC 7523 as Google does for service accounts:
the form carries a signed assertion, and an assertion with a ``target_audience``
claim gets an ID token back. The checks run in the order below, and each failure
is the status, ``error`` and ``error_description`` that Google sends for it.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt

from posos_jwt.testing._accounts import (
    GOOGLE_TOKEN_URI,
    AccountRegistry,
    ServiceAccount,
)
from posos_jwt.testing._faults import Fault
from posos_jwt.testing._http import Request, Response, json_response, oauth_error
from posos_jwt.testing._iam import issue_access_token
from posos_jwt.testing._jwt import decode_unverified, verify_rs256
from posos_jwt.testing._signer import IdTokenSigner

_LOGGER: Final = logging.getLogger(__name__)

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The only ``grant_type`` accepted, RFC 7523, section 2.1."""

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
"""The only request media type accepted, RFC 6749, section 4.1.3."""

ALLOWED_CLOCK_SKEW: Final = 60
"""Seconds that an assertion's ``iat`` may lie in the future of the stand-in's
clock. Google tolerates some skew. This value is the stand-in's choice."""

MAX_ASSERTION_LIFETIME: Final = 3600
"""Maximum ``exp - iat`` of an assertion, in seconds, per Google's error text."""

ID_TOKEN_ISSUER: Final = "https://accounts.google.com"
"""The ``iss`` of ID tokens that Google issues to service accounts."""

ACCESS_TOKEN_LIFETIME: Final = 3599
"""The ``expires_in`` of Google's access-token responses, in seconds."""

NO_STORE: Final = "no-cache, no-store, max-age=0, must-revalidate"
"""Google's ``Cache-Control`` on token responses, so no proxy keeps a token."""

FAULT_ACCESS_TOKEN: Final = "ya29.fake"
"""Access token of a success without ``id_token`` made by ``Fault.omit_id_token``,
fixed so that a test can assert on it."""

# Google's error_description texts, verbatim, because clients and their tests
# match on them.
INVALID_SIGNATURE: Final = "Invalid JWT Signature."
"""Unknown or revoked key id, a key of another account, or a bad signature."""
ACCOUNT_NOT_FOUND: Final = "Invalid grant: account not found"
"""The ``iss`` names no live service account."""
FAILED_AUDIENCE: Final = "Invalid JWT: Failed audience check."
"""The ``aud`` is not Google's token URI."""
NOT_SHORT_LIVED: Final = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
    "reasonable timeframe. Check your iat and exp values in the JWT claim."
)
"""Missing, non-integer, future, expired or too far apart ``iat`` and ``exp``."""
INVALID_SCOPE: Final = "Invalid OAuth scope or ID token audience provided."
"""Neither a ``target_audience`` nor a ``scope`` claim."""


class TokenRequestError(Exception):
    """A check failed. The endpoint sends :attr:`response` instead of a token."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        """Build the OAuth error response for a failed check.

        Args:
            error: The OAuth ``error`` code.
            description: The ``error_description``, in Google's words.
            status: The status code.
        """
        super().__init__(f"{error}: {description}")
        self.response = oauth_error(status, error, description)


@dataclass(frozen=True)
class TokenContext:
    """The stand-in's state that the token endpoint needs for one request.

    Attributes:
        accounts: The registered accounts and keys.
        signer: The key that signs ID tokens.
        now: The stand-in's clock, in seconds since the epoch.
        id_token_lifetime: Lifetime of issued ID tokens, in seconds.
        fault: The fault queued for this request, if any.
    """

    accounts: AccountRegistry
    signer: IdTokenSigner
    now: float
    id_token_lifetime: int
    fault: Fault | None = None


def build_id_token_claims(
    account: ServiceAccount, audience: str, now: float, lifetime: int
) -> dict[str, Any]:
    """Build the claims of an ID token that Google issues to a service account.

    Args:
        account: The account the token is for.
        audience: The ``aud``, exactly as requested.
        now: The issue time, in seconds since the epoch.
        lifetime: Seconds from ``iat`` to ``exp``.

    Returns:
        The claims.
    """
    issued_at = int(now)
    return {
        "aud": audience,
        "azp": account.client_id,
        "email": account.email,
        "email_verified": True,
        "exp": issued_at + lifetime,
        "iat": issued_at,
        "iss": ID_TOKEN_ISSUER,
        "sub": account.client_id,
    }


def apply_claim_overrides(
    claims: dict[str, Any], overrides: Mapping[str, object]
) -> dict[str, Any]:
    """Return ``claims`` updated with ``overrides``, where a None value removes.

    Args:
        claims: The claims to start from. The dict is not changed.
        overrides: Claims to set, or to remove when their value is None.

    Returns:
        The new claims.
    """
    result = {**claims, **overrides}
    return {name: value for name, value in result.items() if value is not None}


def handle_token_request(request: Request, context: TokenContext) -> Response:
    """Respond to one request on ``/token``.

    Args:
        request: The request.
        context: The stand-in's state for this request.

    Returns:
        A 200 with an ID token or an access token, or Google's error response.
    """
    if request.method != "POST":
        description = f"Method {request.method} is not allowed. Use POST."
        error = oauth_error(405, "invalid_request", description)
        return Response(405, error.body, {**error.headers, "Allow": "POST"})
    try:
        account, claims = _check_request(request, context)
    except TokenRequestError as rejection:
        # The message is the error code and description, never the assertion.
        _LOGGER.debug("token request rejected: %s", rejection)
        return rejection.response
    return _success(account, claims, context)


def _check_request(
    request: Request, context: TokenContext
) -> tuple[ServiceAccount, dict[str, Any]]:
    form = _parse_form(request)
    grant_type = form.get("grant_type", "")
    if grant_type != JWT_BEARER_GRANT:
        description = f"Invalid grant_type: {grant_type}"
        raise TokenRequestError("unsupported_grant_type", description)
    assertion = form.get("assertion")
    if not assertion:
        raise TokenRequestError(
            "invalid_request", "Missing required parameter: assertion"
        )
    try:
        header, claims = decode_unverified(assertion)
    except jwt.PyJWTError:
        raise TokenRequestError(
            "invalid_request", "Invalid JWT: the assertion is malformed."
        ) from None
    account = _check_signer(assertion, header, claims, context.accounts)
    _check_audience(claims)
    _check_times(claims, context.now)
    return account, claims


def _parse_form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type.lower() != FORM_CONTENT_TYPE:
        description = f"Content-Type must be {FORM_CONTENT_TYPE}, got {media_type!r}."
        raise TokenRequestError("invalid_request", description)
    try:
        fields = urllib.parse.parse_qs(
            request.body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
        )
    except ValueError:
        raise TokenRequestError("invalid_request", "Malformed form body.") from None
    for name, values in fields.items():
        if len(values) > 1:
            raise TokenRequestError("invalid_request", f"Duplicate parameter: {name}")
    return {name: values[0] for name, values in fields.items()}


def _check_signer(
    assertion: str,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    accounts: AccountRegistry,
) -> ServiceAccount:
    issuer = claims.get("iss")
    account = accounts.find_account(issuer) if isinstance(issuer, str) else None
    if account is None:
        raise TokenRequestError("invalid_grant", ACCOUNT_NOT_FOUND)
    key_id = header.get("kid")
    key = accounts.find_key(key_id) if isinstance(key_id, str) else None
    if key is None or key.revoked or key.email != account.email:
        raise TokenRequestError("invalid_grant", INVALID_SIGNATURE)
    if header.get("alg") != "RS256":
        raise TokenRequestError("invalid_grant", INVALID_SIGNATURE)
    try:
        verify_rs256(assertion, key.public_key)
    except jwt.PyJWTError:
        raise TokenRequestError("invalid_grant", INVALID_SIGNATURE) from None
    return account


def _check_audience(claims: Mapping[str, Any]) -> None:
    if claims.get("aud") != GOOGLE_TOKEN_URI:
        raise TokenRequestError("invalid_grant", FAILED_AUDIENCE)


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    issued_at = claims.get("iat")
    expires_at = claims.get("exp")
    # bool is a subclass of int, but JSON true is not a time.
    if type(issued_at) is not int or type(expires_at) is not int:
        raise TokenRequestError("invalid_grant", NOT_SHORT_LIVED)
    in_future = issued_at > now + ALLOWED_CLOCK_SKEW
    expired = expires_at <= now
    too_long = expires_at - issued_at > MAX_ASSERTION_LIFETIME
    if in_future or expired or too_long or expires_at <= issued_at:
        raise TokenRequestError("invalid_grant", NOT_SHORT_LIVED)


def _success(
    account: ServiceAccount, claims: Mapping[str, Any], context: TokenContext
) -> Response:
    target_audience = claims.get("target_audience")
    if not isinstance(target_audience, str) or not target_audience.strip():
        # Without a target_audience, a scope claim requests an access token.
        scope = claims.get("scope")
        if isinstance(scope, str) and scope.strip():
            access_token = issue_access_token(
                context.signer, account.email, context.now, ACCESS_TOKEN_LIFETIME
            )
            return _access_token_response(access_token)
        return oauth_error(400, "invalid_scope", INVALID_SCOPE)
    fault = context.fault or Fault()
    if fault.omit_id_token:
        return _access_token_response(FAULT_ACCESS_TOKEN)
    id_claims = build_id_token_claims(
        account, target_audience, context.now, context.id_token_lifetime
    )
    id_claims = apply_claim_overrides(id_claims, fault.id_token_claims)
    token = context.signer.sign(id_claims)
    return json_response(200, {"id_token": token}, {"Cache-Control": NO_STORE})


def _access_token_response(access_token: str) -> Response:
    payload = {
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "token_type": "Bearer",
    }
    return json_response(200, payload, {"Cache-Control": NO_STORE})
