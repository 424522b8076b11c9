"""Google-signed ID tokens for APIs behind Identity-Aware Proxy.

posos-jwt turns a service-account key file into an ID token that Google's
Identity-Aware Proxy accepts, with pyjwt, cryptography and urllib3 only::

    import posos_jwt

    credentials = posos_jwt.IDTokenCredentials.from_service_account_file(
        "posos-key.json", target_audience="1234-abc.apps.googleusercontent.com"
    )
    headers = {"Authorization": "Bearer " + credentials.get_token()}

Everything public is imported here; the modules whose names start with an
underscore are private. ``posos_jwt.testing`` holds a local stand-in for
Google, for tests and the ``posos-jwt demo`` command, and is never imported by
the code on this page.
"""

from __future__ import annotations

import logging

from ._assertion import ASSERTION_LIFETIME, GOOGLE_TOKEN_AUDIENCE, build_assertion
from ._credentials import REFRESH_MARGIN, Credentials, IDTokenCredentials
from ._errors import (
    AccountNotFoundError,
    ClockSkewError,
    ConfigurationError,
    DisabledClientError,
    InvalidAudienceError,
    InvalidGrantError,
    InvalidJWTSignatureError,
    KeyFileError,
    KeyFileFieldError,
    KeyFileFormatError,
    KeyFileNotFoundError,
    KeyFileTypeError,
    PososJWTError,
    PrivateKeyError,
    ProxyError,
    RequestTimeoutError,
    TLSError,
    TokenCheckError,
    TokenEndpointError,
    TransportError,
)
from ._fetch import fetch_id_token
from ._idtoken import IDToken
from ._keyfile import ServiceAccountKey
from ._retry import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DEADLINE, RetryPolicy
from ._skew import SKEW_TOLERANCE
from ._token_uri import DEFAULT_TOKEN_URI
from ._transport import DEFAULT_TIMEOUT

__version__ = "0.1.0"

__all__ = [
    "ASSERTION_LIFETIME",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_RETRY_DEADLINE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN_URI",
    "GOOGLE_TOKEN_AUDIENCE",
    "REFRESH_MARGIN",
    "SKEW_TOLERANCE",
    "AccountNotFoundError",
    "ClockSkewError",
    "ConfigurationError",
    "Credentials",
    "DisabledClientError",
    "IDToken",
    "IDTokenCredentials",
    "InvalidAudienceError",
    "InvalidGrantError",
    "InvalidJWTSignatureError",
    "KeyFileError",
    "KeyFileFieldError",
    "KeyFileFormatError",
    "KeyFileNotFoundError",
    "KeyFileTypeError",
    "PososJWTError",
    "PrivateKeyError",
    "ProxyError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServiceAccountKey",
    "TLSError",
    "TokenCheckError",
    "TokenEndpointError",
    "TransportError",
    "__version__",
    "build_assertion",
    "fetch_id_token",
]

# A library adds no handler of its own: the application decides where log
# records go. This only keeps Python from printing "No handlers could be found".
logging.getLogger(__name__).addHandler(logging.NullHandler())
