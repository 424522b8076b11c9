"""Google-signed ID tokens for APIs behind Identity-Aware Proxy.

posos-jwt turns a service-account key file into an ID token that Google's
Identity-Aware Proxy accepts, with pyjwt, cryptography and urllib3 only::

    import posos_jwt

    credentials = posos_jwt.IDTokenCredentials.from_service_account_file(
        "posos-key.json", target_audience="1234-abc.apps.googleusercontent.com"
    )
    headers = {"Authorization": "Bearer " + credentials.get_token()}

Every public name is listed here and imported from its private module (the
modules whose names start with an underscore) on first use, so that
``import posos_jwt`` stays cheap and a command loads only the modules that it
runs. ``posos_jwt.testing`` contains a local stand-in for Google, for tests and
the ``posos-jwt demo`` command, and is never imported by the code on this
page.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._assertion import ASSERTION_LIFETIME, GOOGLE_TOKEN_AUDIENCE, build_assertion
    from ._auth import IAPAuth
    from ._config import ConfigFile, Profile
    from ._credentials import (
        MIN_REFRESH_INTERVAL,
        MIN_TOKEN_VALIDITY,
        REFRESH_MARGIN,
        Credentials,
        IDTokenCredentials,
    )
    from ._defaults import (
        DEFAULT_IAM_ENDPOINT,
        DEFAULT_MAX_ATTEMPTS,
        DEFAULT_MAX_BODY_SIZE,
        DEFAULT_RETRY_DEADLINE,
        DEFAULT_TIMEOUT,
        GOOGLE_CERTS_URL,
        GOOGLE_CERTS_V1_URL,
        IAP_CERTS_URL,
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
        KeySetUnavailableError,
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
    from ._http import APIResponse, AuthorizedHTTP
    from ._idtoken import IDToken
    from ._impersonated import AccessToken, ImpersonatedCredentials
    from ._keyfile import ServiceAccountKey
    from ._keyset import KeySet
    from ._metadata import METADATA_TIMEOUT, MetadataCredentials
    from ._retry import RetryPolicy
    from ._self_signed import SELF_SIGNED_LIFETIME, SelfSignedCredentials
    from ._skew import SKEW_TOLERANCE
    from ._token_cache import TokenCache
    from ._token_uri import DEFAULT_TOKEN_URI
    from ._url_target import resolve_request_url
    from ._verify import (
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
    "KeySetUnavailableError",
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

_EXPORTS: dict[str, str] = {
    "ASSERTION_LIFETIME": "_assertion",
    "DEFAULT_IAM_ENDPOINT": "_defaults",
    "DEFAULT_MAX_ATTEMPTS": "_defaults",
    "DEFAULT_MAX_BODY_SIZE": "_defaults",
    "DEFAULT_RETRY_DEADLINE": "_defaults",
    "DEFAULT_TIMEOUT": "_defaults",
    "DEFAULT_TOKEN_URI": "_token_uri",
    "GOOGLE_CERTS_URL": "_defaults",
    "GOOGLE_CERTS_V1_URL": "_defaults",
    "GOOGLE_TOKEN_AUDIENCE": "_assertion",
    "IAP_CERTS_URL": "_defaults",
    "METADATA_TIMEOUT": "_metadata",
    "MIN_REFRESH_INTERVAL": "_credentials",
    "MIN_TOKEN_VALIDITY": "_credentials",
    "REFRESH_MARGIN": "_credentials",
    "SELF_SIGNED_LIFETIME": "_self_signed",
    "SKEW_TOLERANCE": "_skew",
    "VERIFY_LEEWAY": "_verify",
    "APIResponse": "_http",
    "AccessToken": "_impersonated",
    "AccountNotFoundError": "_errors",
    "AuthorizedHTTP": "_http",
    "ClockSkewError": "_errors",
    "ConfigFile": "_config",
    "ConfigFileError": "_errors",
    "ConfigurationError": "_errors",
    "Credentials": "_credentials",
    "DisabledClientError": "_errors",
    "HTTPStatusError": "_errors",
    "IAPAuth": "_auth",
    "IAPError": "_errors",
    "IDToken": "_idtoken",
    "IDTokenCredentials": "_credentials",
    "ImpersonatedCredentials": "_impersonated",
    "InvalidAudienceError": "_errors",
    "InvalidGrantError": "_errors",
    "InvalidJWTSignatureError": "_errors",
    "KeyFileError": "_errors",
    "KeyFileFieldError": "_errors",
    "KeyFileFormatError": "_errors",
    "KeyFileNotFoundError": "_errors",
    "KeyFileTypeError": "_errors",
    "KeySet": "_keyset",
    "KeySetError": "_errors",
    "KeySetUnavailableError": "_errors",
    "MalformedTokenError": "_errors",
    "MetadataCredentials": "_metadata",
    "MetadataServerError": "_errors",
    "NoCredentialsError": "_errors",
    "PososJWTError": "_errors",
    "PrivateKeyError": "_errors",
    "Profile": "_config",
    "ProfileNotFoundError": "_errors",
    "ProxyError": "_errors",
    "RequestTargetError": "_errors",
    "RequestTimeoutError": "_errors",
    "RetryPolicy": "_retry",
    "SelfSignedCredentials": "_self_signed",
    "ServiceAccountKey": "_keyfile",
    "TLSError": "_errors",
    "TokenAlgorithmError": "_errors",
    "TokenAudienceError": "_errors",
    "TokenCache": "_token_cache",
    "TokenCacheError": "_errors",
    "TokenCheckError": "_errors",
    "TokenEndpointError": "_errors",
    "TokenExpiredError": "_errors",
    "TokenIssuerError": "_errors",
    "TokenLifetimeError": "_errors",
    "TokenNotYetValidError": "_errors",
    "TokenSignatureError": "_errors",
    "TransportError": "_errors",
    "UnknownKeyError": "_errors",
    "VerificationError": "_errors",
    "build_assertion": "_assertion",
    "decode_unverified_jwt": "_verify",
    "fetch_id_token": "_fetch",
    "find_credentials": "_discovery",
    "resolve_request_url": "_url_target",
    "verify_iap_jwt": "_verify",
    "verify_id_token": "_verify",
}
"""The private module that defines each public name. It must list the same
names as ``__all__`` (without ``__version__``) and the imports above, which
``tests/test_public_api.py`` checks."""


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("." + module, __name__), name)
    # Later lookups find the name in the module's namespace directly.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the loaded names and every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))


# A library adds no handler of its own: the application decides where log
# records go. This only keeps Python from printing "No handlers could be found".
logging.getLogger(__name__).addHandler(logging.NullHandler())
