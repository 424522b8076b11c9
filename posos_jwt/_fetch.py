"""One call that returns an ID token: the front door for scripts."""

from __future__ import annotations

import os

from ._arguments import require_text
from ._defaults import DEFAULT_TIMEOUT
from ._discovery import find_credentials
from ._retry import RetryPolicy


def fetch_id_token(
    client_id: str,
    key_file: str | os.PathLike[str] | None = None,
    *,
    token_uri: str | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    proxy: str | None = None,
    trust_env: bool = True,
    retry: RetryPolicy | None = None,
) -> str:
    """Fetch a Google-signed ID token for ``client_id``.

    This replaces google-auth's ``id_token.fetch_id_token(Request(), client_id)``.
    Each call fetches a new token: a program that calls an API repeatedly
    should keep an :class:`IDTokenCredentials` instead, which caches it.

    Args:
        client_id: The OAuth client ID of the IAP resource (the audience).
        key_file: The service-account key file. Without it, the file named by
            ``GOOGLE_APPLICATION_CREDENTIALS`` is used, or else the metadata
            server of Google Cloud, as :func:`find_credentials` does.
        token_uri: The token endpoint, overriding the key file's.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's.
        timeout: Seconds allowed to connect, and again for each read.
        proxy: An ``http://[user:password@]host:port`` proxy instead of
            ``HTTPS_PROXY``; ``""`` means no proxy.
        trust_env: Whether to read ``HTTPS_PROXY`` and ``NO_PROXY``.
        retry: How often and how long to retry a failure that may pass.

    Returns:
        The ID token, a compact JWT. It is a bearer credential: never log it.

    Raises:
        NoCredentialsError: No key file is given or set, and no metadata
            server responded.
        ConfigurationError: An argument is invalid.
        KeyFileError: The key file cannot be used.
        TokenEndpointError: The token endpoint or the metadata server rejected
            the request.
        TransportError: The request failed below HTTP, or the proxy refused
            it.
        TokenCheckError: The returned token failed its checks.

    Example::

        import posos_jwt

        token = posos_jwt.fetch_id_token(
            "1234-abc.apps.googleusercontent.com", "posos-key.json"
        )
    """
    require_text(client_id, "client_id", "pass the OAuth client ID")
    # find_credentials checks the types of the other arguments before it
    # reads a file or the environment.
    credentials = find_credentials(
        client_id,
        key_file,
        token_uri=token_uri,
        ca_bundle=ca_bundle,
        timeout=timeout,
        proxy=proxy,
        trust_env=trust_env,
        retry=retry,
    )
    return credentials.refresh().value
