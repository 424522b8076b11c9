"""URL routing of the stand-in, the published-keys routes, and fault responses."""

from __future__ import annotations

from typing import Final

from posos_jwt.testing._faults import Fault
from posos_jwt.testing._http import Request, Response, json_response, oauth_error
from posos_jwt.testing._iam import GENERATE_ID_TOKEN_SUFFIX, IAM_PATH_PREFIX
from posos_jwt.testing._iap_signer import IapSigner
from posos_jwt.testing._signer import IdTokenSigner

TOKEN_PATH: Final = "/token"
"""Path of the token endpoint, to join to the stand-in's base URL."""

JWKS_PATH: Final = "/oauth2/v3/certs"
"""Path of the JWK set, the same as Google's."""

CERTS_V1_PATH: Final = "/oauth2/v1/certs"
"""Path of the map from key id to PEM certificate, the same as Google's."""

IAP_JWK_PATH: Final = "/iap/verify/public_key-jwk"
"""Path of the JWK set of IAP's signing key, the same as on www.gstatic.com."""

API_PATH: Final = "/api"
"""Path of the IAP-protected echo API. Every path under it is served too."""

CERTS_CACHE_CONTROL: Final = "public, max-age=21600, must-revalidate, no-transform"
"""Google's ``Cache-Control`` on its published keys, which clients may cache."""

IAP_KEYS_CACHE_CONTROL: Final = "public, max-age=3600"
"""``Cache-Control`` on IAP's JWK set: the stand-in's choice, not Google's."""


def route_for(path: str) -> str | None:
    """Return the route that serves ``path``: "token", "certs", "iap_keys", "api",
    "iam" or None.

    Args:
        path: The request path without its query string.

    Returns:
        The route name, or None if no route serves the path.
    """
    if path == TOKEN_PATH:
        return "token"
    if path in (JWKS_PATH, CERTS_V1_PATH):
        return "certs"
    if path == IAP_JWK_PATH:
        return "iap_keys"
    if path == API_PATH or path.startswith(API_PATH + "/"):
        return "api"
    if path.startswith(IAM_PATH_PREFIX) and path.endswith(GENERATE_ID_TOKEN_SUFFIX):
        return "iam"
    return None


def not_found(path: str) -> Response:
    """Build the 404 response for a path that no route serves."""
    return oauth_error(404, "not_found", f"No stand-in route serves {path}.")


def fault_response(fault: Fault) -> Response:
    """Build the response that a fault with a ``status`` sends instead.

    Args:
        fault: A fault whose ``status`` is set.

    Returns:
        The response with the fault's status, body, content type and headers.
    """
    headers = {"Content-Type": fault.content_type, **fault.headers}
    return Response(fault.status or 500, fault.body_bytes, headers)


def handle_certs_request(request: Request, signer: IdTokenSigner) -> Response:
    """Respond to a request for the signing key, as a JWK set or as certificates.

    Args:
        request: A request on :data:`JWKS_PATH` or :data:`CERTS_V1_PATH`.
        signer: The key to publish.

    Returns:
        The keys with Google's caching headers, or 405 for methods other than
        GET and HEAD.
    """
    if request.method not in ("GET", "HEAD"):
        error = oauth_error(405, "invalid_request", "Use GET.")
        return Response(405, error.body, {**error.headers, "Allow": "GET, HEAD"})
    headers = {"Cache-Control": CERTS_CACHE_CONTROL}
    if request.path == JWKS_PATH:
        return json_response(200, signer.jwks(), headers)
    return json_response(200, signer.certificates(), headers)


def handle_iap_keys_request(request: Request, signer: IapSigner) -> Response:
    """Respond to a request for IAP's JWK set on :data:`IAP_JWK_PATH`.

    Args:
        request: The request.
        signer: IAP's signing key, to publish.

    Returns:
        The JWK set, or 405 for methods other than GET and HEAD.
    """
    if request.method not in ("GET", "HEAD"):
        error = oauth_error(405, "invalid_request", "Use GET.")
        return Response(405, error.body, {**error.headers, "Allow": "GET, HEAD"})
    headers = {"Cache-Control": IAP_KEYS_CACHE_CONTROL}
    return json_response(200, signer.jwks(), headers)
