"""The stand-in for the IAM Service Account Credentials API, ``generateIdToken``.

``POST /v1/projects/-/serviceAccounts/TARGET:generateIdToken`` with a bearer
OAuth access token and ``{"audience": ..., "includeEmail": true}`` returns
``{"token": ...}``, an ID token for the target account, when the caller's
account has ``roles/iam.serviceAccountOpenIdTokenCreator`` on the target.
Errors are Google API error objects: ``{"error": {"code", "message",
"status"}}``.

The stand-in's access tokens are ``ya29.standin.`` followed by a JWT that the
stand-in's own key signs, which names the account and the expiry. That keeps
the token endpoint and the metadata server stateless, and lets this API check
any access token that either of them issued.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Final

import jwt

from posos_jwt.testing._accounts import AccountRegistry
from posos_jwt.testing._http import Request, Response, json_response
from posos_jwt.testing._signer import IdTokenSigner

ACCESS_TOKEN_PREFIX: Final = "ya29.standin."
"""Start of every access token that the stand-in issues. Google's start with
``ya29.``."""

ACCESS_TOKEN_AUDIENCE: Final = "posos-jwt-standin-access-token"
"""The ``aud`` inside the stand-in's access tokens, which no ID token has, so
that an ID token cannot pass for an access token."""

IAM_PATH_PREFIX: Final = "/v1/projects/-/serviceAccounts/"
"""Path of the service accounts in the IAM Credentials API."""

GENERATE_ID_TOKEN_SUFFIX: Final = ":generateIdToken"
"""The custom method that issues ID tokens."""

TOKEN_CREATOR_ROLE: Final = "roles/iam.serviceAccountOpenIdTokenCreator"
"""The role on the target account that allows ``generateIdToken``."""

# Google's texts for these failures, from its API error responses.
UNAUTHENTICATED_MESSAGE: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access "
    "token, login cookie or other valid authentication credential."
)
"""A missing, malformed or expired bearer access token."""
PERMISSION_DENIED_MESSAGE: Final = (
    "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it "
    "may not exist)."
)
"""The caller lacks the role on the target, or the target does not exist."""


def issue_access_token(
    signer: IdTokenSigner, email: str, now: float, lifetime: int
) -> str:
    """Return an access token for ``email`` that :func:`access_token_email` reads.

    Args:
        signer: The stand-in's signing key.
        email: The account that the token acts as.
        now: The issue time, in seconds since the epoch.
        lifetime: Seconds until it expires.
    """
    issued_at = int(now)
    claims = {
        "aud": ACCESS_TOKEN_AUDIENCE,
        "email": email,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    return ACCESS_TOKEN_PREFIX + signer.sign(claims)


def access_token_email(signer: IdTokenSigner, token: str, now: float) -> str | None:
    """Return the account of a valid stand-in access token, or None.

    Args:
        signer: The stand-in's signing key.
        token: The bearer token of a request.
        now: The stand-in's clock, in seconds since the epoch.
    """
    if not token.startswith(ACCESS_TOKEN_PREFIX):
        return None
    try:
        claims = signer.verify(token.removeprefix(ACCESS_TOKEN_PREFIX))
    except jwt.PyJWTError:
        return None
    expires_at = claims.get("exp")
    if claims.get("aud") != ACCESS_TOKEN_AUDIENCE or type(expires_at) is not int:
        return None
    if expires_at <= now:
        return None
    email = claims.get("email")
    return email if isinstance(email, str) else None


@dataclass(frozen=True)
class IamContext:
    """The stand-in's state that the IAM Credentials API needs for one request.

    Attributes:
        signer: The key that signs access tokens and ID tokens.
        accounts: The registered accounts, to find the target.
        grants: ``(source, target)`` pairs of emails where the source has
            the token-creator role on the target.
        now: The stand-in's clock, in seconds since the epoch.
        issue_id_token: Signs an ID token for ``(audience, email,
            include_email)``.
    """

    signer: IdTokenSigner
    accounts: AccountRegistry
    grants: Set[tuple[str, str]]
    now: float
    issue_id_token: Callable[[str, str, bool], str]


def api_error(status: int, code: str, message: str) -> Response:
    """Build a Google API error response."""
    payload = {"error": {"code": status, "message": message, "status": code}}
    return json_response(status, payload)


def handle_generate_id_token(request: Request, context: IamContext) -> Response:
    """Respond to one ``generateIdToken`` request.

    Args:
        request: The request.
        context: The stand-in's state for this request.

    Returns:
        A 200 with ``{"token": ...}``, or Google's API error.
    """
    if request.method != "POST":
        return api_error(405, "METHOD_NOT_ALLOWED", "Use POST.")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    caller = None
    if scheme.lower() == "bearer":
        caller = access_token_email(context.signer, token.strip(), context.now)
    if caller is None:
        return api_error(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE)
    target = urllib.parse.unquote(
        request.path.removeprefix(IAM_PATH_PREFIX).removesuffix(
            GENERATE_ID_TOKEN_SUFFIX
        )
    )
    known = context.accounts.find_account(target) is not None
    if not known or (caller, target) not in context.grants:
        return api_error(403, "PERMISSION_DENIED", PERMISSION_DENIED_MESSAGE)
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return api_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    audience = body.get("audience") if isinstance(body, dict) else None
    if not isinstance(audience, str) or not audience:
        return api_error(400, "INVALID_ARGUMENT", "audience is required.")
    include_email = body.get("includeEmail") is True
    id_token = context.issue_id_token(audience, target, include_email)
    return json_response(200, {"token": id_token})
