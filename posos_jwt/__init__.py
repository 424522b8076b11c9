"""Google-signed ID tokens for APIs behind Identity-Aware Proxy.

posos-jwt turns a service-account key file into an ID token that Google's
Identity-Aware Proxy accepts, with pyjwt, cryptography and urllib3 only::

    import posos_jwt

    credentials = posos_jwt.IDTokenCredentials.from_service_account_file(
        "posos-key.json", target_audience="1234-abc.apps.googleusercontent.com"
    )
    headers = {"Authorization": "Bearer " + credentials.get_token()}

Everything public is imported here; the modules whose names start with an
underscore are private. ``posos_jwt.testing`` contains a local stand-in for
Google, for tests and the ``posos-jwt demo`` command, and is never imported by
the code on this page.
"""

from __future__ import annotations

import logging

from ._assertion import ASSERTION_LIFETIME, GOOGLE_TOKEN_AUDIENCE, build_assertion
from ._auth import IAPAuth
from ._config import ConfigFile, Profile, resolve_request_url
from ._credentials import (
    MIN_REFRESH_INTERVAL,
    MIN_TOKEN_VALIDITY,
    REFRESH_MARGIN,
    Credentials,
    IDTokenCredentials,
)
from ._discovery import find_credentials
from ._errors import (
    AccountNotFoundError,
    ClockSkewError,
    ConfigFileError,
    ConfigurationError,
    DisabledClientError,
    HTTPStatusError,
    IAPError,
    InvalidAudienceError,
    InvalidGrantError,
    InvalidJWTSignatureError,
    KeyFileError,
    KeyFileFieldError,
    KeyFileFormatError,
    KeyFileNotFoundError,
    KeyFileTypeError,
    KeySetError,
    MalformedTokenError,
    MetadataServerError,
    NoCredentialsError,
    PososJWTError,
    PrivateKeyError,
    ProfileNotFoundError,
    ProxyError,
    RequestTargetError,
    RequestTimeoutError,
    TLSError,
    TokenAlgorithmError,
    TokenAudienceError,
    TokenCacheError,
    TokenCheckError,
    TokenEndpointError,
    TokenExpiredError,
    TokenIssuerError,
    TokenLifetimeError,
    TokenNotYetValidError,
    TokenSignatureError,
    TransportError,
    UnknownKeyError,
    VerificationError,
)
from ._fetch import fetch_id_token
from ._http import DEFAULT_MAX_BODY_SIZE, APIResponse, AuthorizedHTTP
from ._idtoken import IDToken
from ._impersonated import DEFAULT_IAM_ENDPOINT, AccessToken, ImpersonatedCredentials
from ._keyfile import ServiceAccountKey
from ._keyset import KeySet
from ._metadata import METADATA_TIMEOUT, MetadataCredentials
from ._retry import DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DEADLINE, RetryPolicy
from ._self_signed import SELF_SIGNED_LIFETIME, SelfSignedCredentials
from ._skew import SKEW_TOLERANCE
from ._token_cache import TokenCache
from ._token_uri import DEFAULT_TOKEN_URI
from ._transport import DEFAULT_TIMEOUT
from ._verify import (
    GOOGLE_CERTS_URL,
    GOOGLE_CERTS_V1_URL,
    IAP_CERTS_URL,
    VERIFY_LEEWAY,
    decode_unverified_jwt,
    verify_iap_jwt,
    verify_id_token,
)

__version__ = "0.1.0"

__all__ = [
    "ASSERTION_LIFETIME",
    "DEFAULT_IAM_ENDPOINT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_RETRY_DEADLINE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN_URI",
    "GOOGLE_CERTS_URL",
    "GOOGLE_CERTS_V1_URL",
    "GOOGLE_TOKEN_AUDIENCE",
    "IAP_CERTS_URL",
    "METADATA_TIMEOUT",
    "MIN_REFRESH_INTERVAL",
    "MIN_TOKEN_VALIDITY",
    "REFRESH_MARGIN",
    "SELF_SIGNED_LIFETIME",
    "SKEW_TOLERANCE",
    "VERIFY_LEEWAY",
    "APIResponse",
    "AccessToken",
    "AccountNotFoundError",
    "AuthorizedHTTP",
    "ClockSkewError",
    "ConfigFile",
    "ConfigFileError",
    "ConfigurationError",
    "Credentials",
    "DisabledClientError",
    "HTTPStatusError",
    "IAPAuth",
    "IAPError",
    "IDToken",
    "IDTokenCredentials",
    "ImpersonatedCredentials",
    "InvalidAudienceError",
    "InvalidGrantError",
    "InvalidJWTSignatureError",
    "KeyFileError",
    "KeyFileFieldError",
    "KeyFileFormatError",
    "KeyFileNotFoundError",
    "KeyFileTypeError",
    "KeySet",
    "KeySetError",
    "MalformedTokenError",
    "MetadataCredentials",
    "MetadataServerError",
    "NoCredentialsError",
    "PososJWTError",
    "PrivateKeyError",
    "Profile",
    "ProfileNotFoundError",
    "ProxyError",
    "RequestTargetError",
    "RequestTimeoutError",
    "RetryPolicy",
    "SelfSignedCredentials",
    "ServiceAccountKey",
    "TLSError",
    "TokenAlgorithmError",
    "TokenAudienceError",
    "TokenCache",
    "TokenCacheError",
    "TokenCheckError",
    "TokenEndpointError",
    "TokenExpiredError",
    "TokenIssuerError",
    "TokenLifetimeError",
    "TokenNotYetValidError",
    "TokenSignatureError",
    "TransportError",
    "UnknownKeyError",
    "VerificationError",
    "__version__",
    "build_assertion",
    "decode_unverified_jwt",
    "fetch_id_token",
    "find_credentials",
    "resolve_request_url",
    "verify_iap_jwt",
    "verify_id_token",
]

# A library adds no handler of its own: the application decides where log
# records go. This only keeps Python from printing "No handlers could be found".
logging.getLogger(__name__).addHandler(logging.NullHandler())
