"""The stand-in for Identity-Aware Proxy in front of an echo API, on /api.

IAP takes a bearer token from ``Proxy-Authorization`` if that header is present,
else from ``Authorization``. It accepts an ID token that Google signed for the
application's OAuth client id. When the stand-in has ``accounts``, it also
accepts a JWT that a registered service account signed with its own key for the
request URL. The echo behind it returns what it received, except for the token
and every other header value.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt

from posos_jwt.testing._accounts import AccountRegistry
from posos_jwt.testing._http import HTML_CONTENT_TYPE, Request, Response, json_response
from posos_jwt.testing._iap_self_signed import (
    SelfSignedJwtError,
    check_self_signed_jwt,
    is_service_account_jwt,
)
from posos_jwt.testing._records import ApiRequest
from posos_jwt.testing._signer import IdTokenSigner

_LOGGER: Final = logging.getLogger(__name__)

ACCEPTED_ISSUERS: Final = frozenset(
    {"https://accounts.google.com", "accounts.google.com"}
)
"""Issuers that Google's ID tokens carry, with and without the scheme."""

SIGN_IN_URL: Final = "https://accounts.google.com/o/oauth2/v2/auth"
"""Sign-in page that IAP redirects a browser without credentials to."""

GATEKEEPER_PATH: Final = "/_gcp_gatekeeper/authenticate"
"""IAP's path that receives the browser back after sign-in."""

GENERATED_HEADER: Final = "x-goog-iap-generated-response"
"""Header that marks a response made by IAP rather than by the application."""

CREDENTIAL_HEADERS: Final = ("proxy-authorization", "authorization")
"""Headers that IAP reads a bearer token from, in the order it tries them."""

SIGNATURE_ERRORS: Final = (
    jwt.InvalidSignatureError,
    jwt.InvalidAlgorithmError,
    jwt.InvalidKeyError,
)
"""pyjwt errors that mean a well-formed token with a bad signature."""

REJECTION_PREFIX: Final = "Invalid IAP credentials: "
"""Start of the body of every IAP rejection."""


class CredentialsError(Exception):
    """IAP rejects the request with 401 and :attr:`reason` after its prefix."""

    def __init__(self, reason: str) -> None:
        """Store the reason, the text after ``Invalid IAP credentials: ``."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IapContext:
    """The stand-in's state that IAP needs for one request.

    Attributes:
        signer: The key whose signatures IAP trusts.
        client_id: The OAuth client id that tokens must name as ``aud``.
        now: The stand-in's clock, in seconds since the epoch.
        base_url: The stand-in's URL, for the sign-in redirect.
        accounts: The service accounts whose self-signed JWTs IAP accepts, or
            None to accept Google-signed ID tokens only.
        sign_forwarded_header: Builds the ``x-goog-iap-jwt-assertion`` value
            that IAP adds to an accepted request, from the claims of the token
            it accepted. None adds no header.
    """

    signer: IdTokenSigner
    client_id: str
    now: float
    base_url: str
    accounts: AccountRegistry | None = None
    sign_forwarded_header: Callable[[Mapping[str, Any]], str] | None = None


def find_credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Return the name and value of the header IAP reads credentials from.

    Args:
        headers: Request headers keyed by lower-case name.

    Returns:
        The header name and value, or ``(None, None)`` if neither was sent.
    """
    for name in CREDENTIAL_HEADERS:
        if name in headers:
            return name, headers[name]
    return None, None


def rejection(reason: str) -> Response:
    """Build IAP's 401 response with the body ``Invalid IAP credentials: reason``."""
    headers = {"Content-Type": HTML_CONTENT_TYPE, GENERATED_HEADER: "true"}
    return Response(401, (REJECTION_PREFIX + reason).encode("utf-8"), headers)


def handle_api_request(
    request: Request, context: IapContext
) -> tuple[Response, ApiRequest]:
    """Respond to one request on ``/api`` and describe it for the request log.

    Args:
        request: The request.
        context: The stand-in's state for this request.

    Returns:
        The response (a 200 echo, a 401 rejection or a 302 to sign in) and the
        record of the request.
    """
    header_used, value = find_credentials(request.headers)
    record = ApiRequest(
        request.method, request.path, request.query, None, None, header_used
    )
    if value is None:
        return _without_credentials(request, context), record
    try:
        claims = _check_token(_bearer_token(value), context, request.path)
    except CredentialsError as error:
        _LOGGER.debug("IAP rejected %s %s: %s", request.method, request.path, error)
        return rejection(error.reason), record
    email, audience = claims["email"], claims["aud"]
    forwarded = None
    if context.sign_forwarded_header is not None:
        forwarded = context.sign_forwarded_header(claims)
    record = ApiRequest(
        request.method,
        request.path,
        request.query,
        email,
        audience,
        header_used,
        forwarded,
    )
    return _echo(request, email, audience), record


def _without_credentials(request: Request, context: IapContext) -> Response:
    if "text/html" not in request.headers.get("accept", "").lower():
        return rejection("empty token")
    query = urllib.parse.urlencode(
        {
            "client_id": context.client_id,
            "response_type": "code",
            "scope": "openid email",
            "redirect_uri": context.base_url + GATEKEEPER_PATH,
        },
        safe=":/",
    )
    headers = {
        "Location": f"{SIGN_IN_URL}?{query}",
        "Content-Type": HTML_CONTENT_TYPE,
        GENERATED_HEADER: "true",
    }
    return Response(302, b"", headers)


def _bearer_token(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise CredentialsError("Unable to parse JWT")
    token = token.strip()
    if not token:
        raise CredentialsError("empty token")
    return token


def _verify_signature(token: str, signer: IdTokenSigner) -> dict[str, Any]:
    try:
        return signer.verify(token)
    except SIGNATURE_ERRORS:
        raise CredentialsError("JWT signature is invalid") from None
    except jwt.PyJWTError:  # pyjwt's InvalidSignatureError is a DecodeError too
        raise CredentialsError("Unable to parse JWT") from None


def _check_token(token: str, context: IapContext, path: str) -> dict[str, Any]:
    accounts = context.accounts
    if accounts is not None and is_service_account_jwt(token, accounts):
        try:
            return check_self_signed_jwt(
                token, context.base_url + path, accounts, context.now
            )
        except SelfSignedJwtError as error:
            raise CredentialsError(error.reason) from None
    claims = _verify_signature(token, context.signer)
    if claims.get("iss") not in ACCEPTED_ISSUERS:
        raise CredentialsError("JWT issuer is invalid")
    audience = claims.get("aud")
    if audience != context.client_id:
        raise CredentialsError(
            "JWT audience doesn't match this application ('aud' claim "
            f"({audience}) doesn't match expected value ({context.client_id}))"
        )
    expires_at = claims.get("exp")
    # bool is a subclass of int, but JSON true is not a time.
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        raise CredentialsError("Expired JWT")
    if expires_at <= context.now:
        raise CredentialsError("Expired JWT")
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        # NOTE: the stand-in's own wording: IAP's text for this case is unknown.
        raise CredentialsError("JWT has no email claim")
    return claims


def _echo(request: Request, email: str, audience: str) -> Response:
    payload = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "email": email,
        "aud": audience,
        "body_length": len(request.body),
    }
    return json_response(200, payload)
