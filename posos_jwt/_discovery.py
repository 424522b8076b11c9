"""Find credentials when the caller names none: key file, environment, metadata.

The order is that of Google's client libraries, limited to the sources that
posos-jwt supports:

1. a key file passed explicitly;
2. the key file named by ``GOOGLE_APPLICATION_CREDENTIALS``;
3. the metadata server of Google Cloud, when one responds.

A key file that is named but cannot be used raises its own error at once,
instead of falling through to the next source, so that a broken deployment
never runs silently as another identity. Only when no source is configured or
reachable does :class:`NoCredentialsError` list what was tried.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ._arguments import (
    optional_instance,
    optional_path,
    optional_text,
    require_bool,
    require_text,
)
from ._credentials import Credentials, IDTokenCredentials
from ._defaults import DEFAULT_IAM_ENDPOINT, DEFAULT_TIMEOUT
from ._errors import (
    MetadataServerError,
    NoCredentialsError,
    RequestTimeoutError,
    TransportError,
)
from ._keyfile import CREDENTIALS_ENV, ServiceAccountKey
from ._retry import RetryPolicy
from ._transport import check_timeout

logger = logging.getLogger(__name__)


def find_credentials(
    target_audience: str,
    key_file: str | os.PathLike[str] | None = None,
    *,
    token_uri: str | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    metadata_server: str | None = None,
    impersonate: str | None = None,
    iam_endpoint: str = DEFAULT_IAM_ENDPOINT,
    proxy: str | None = None,
    trust_env: bool = True,
    retry: RetryPolicy | None = None,
) -> Credentials:
    """Return credentials for ``target_audience`` from the first source found.

    The sources are tried in order: ``key_file``, then the file named by
    ``GOOGLE_APPLICATION_CREDENTIALS``, then the metadata server, which is
    probed with a timeout of :data:`METADATA_TIMEOUT` seconds. With
    ``impersonate``, the source found gets ID tokens for that service account
    from the IAM Credentials API instead of for itself.

    Args:
        target_audience: The OAuth client ID of the IAP resource.
        key_file: A service-account key file, which wins over every other
            source.
        token_uri: For a key file, the token endpoint overriding the file's.
        ca_bundle: A PEM file of CA certificates to trust instead of the
            system's, for the token endpoint and the IAM Credentials API.
        timeout: Seconds allowed to connect, and again for each read, when
            fetching tokens.
        metadata_server: The metadata server's ``host[:port]``, overriding
            ``GCE_METADATA_HOST`` and ``metadata.google.internal``.
        impersonate: The email of a service account to get ID tokens for,
            on which the source has
            ``roles/iam.serviceAccountOpenIdTokenCreator``.
        iam_endpoint: With ``impersonate``, the root URL of the IAM
            Credentials API.
        proxy: The https proxy of the token endpoint and, with
            ``impersonate``, of the IAM Credentials API, overriding
            ``HTTPS_PROXY``. The metadata server is always reached directly.
        trust_env: Whether ``HTTPS_PROXY`` and ``NO_PROXY`` apply to the
            token endpoint and the IAM Credentials API.
        retry: The retry policy of requests to the token endpoint and the
            IAM Credentials API.

    Returns:
        :class:`IDTokenCredentials` for a key file or
        :class:`MetadataCredentials`, or :class:`ImpersonatedCredentials`
        with ``impersonate``. No token has been fetched yet.

    Raises:
        KeyFileError: A key file is named but cannot be used.
        NoCredentialsError: No key file is named and no metadata server
            responded.
        ConfigurationError: Another argument is invalid.

    Example::

        credentials = posos_jwt.find_credentials("1234-abc.apps.googleusercontent.com")
        token = credentials.get_token()
    """
    require_text(target_audience, "target_audience", "pass the OAuth client ID")
    key_file = optional_path(key_file, "key_file")
    optional_text(token_uri, "token_uri", "pass an https:// URL")
    optional_path(ca_bundle, "ca_bundle")
    check_timeout(timeout)
    optional_text(metadata_server, "metadata_server", "pass a host[:port]")
    optional_text(impersonate, "impersonate", "pass the target's email")
    require_text(iam_endpoint, "iam_endpoint", "pass an https:// URL")
    optional_text(proxy, "proxy", "pass an http:// proxy URL")
    require_bool(trust_env, "trust_env")
    optional_instance(retry, RetryPolicy, "retry")
    if key_file is None:
        environment_path = os.environ.get(CREDENTIALS_ENV, "").strip()
        if environment_path:
            logger.debug(
                "using the key file %s from %s", environment_path, CREDENTIALS_ENV
            )
            key_file = environment_path
    else:
        logger.debug("using the key file %s passed explicitly", key_file)
    options: dict[str, Any] = {
        "ca_bundle": ca_bundle,
        "timeout": timeout,
        "proxy": proxy,
        "trust_env": trust_env,
        "retry": retry,
    }
    # The impersonation and metadata-server modules are imported only on the
    # branches that use them, so that a key file alone does not load them.
    if key_file is not None:
        if impersonate is None:
            return IDTokenCredentials.from_service_account_file(
                key_file,
                target_audience=target_audience,
                token_uri=token_uri,
                **options,
            )
        from ._impersonated import ImpersonatedCredentials

        return ImpersonatedCredentials.from_service_account_key(
            ServiceAccountKey.from_file(key_file),
            impersonate,
            target_audience,
            token_uri=token_uri,
            iam_endpoint=iam_endpoint,
            **options,
        )
    host = probe_metadata_server(metadata_server)
    logger.debug("using the metadata server %s", host)
    if impersonate is None:
        from ._metadata import MetadataCredentials

        return MetadataCredentials(target_audience, host=host, timeout=timeout)
    from ._impersonated import ImpersonatedCredentials

    return ImpersonatedCredentials.from_metadata_server(
        impersonate, target_audience, host=host, iam_endpoint=iam_endpoint, **options
    )


def probe_metadata_server(override: str | None) -> str:
    """Return the metadata server's ``host[:port]`` if one responds there.

    Raises:
        NoCredentialsError: No metadata server responded, so no source is left.
        ConfigurationError: ``override`` or ``GCE_METADATA_HOST`` is invalid.
    """
    from ._metadata import METADATA_TIMEOUT, check_metadata_server, metadata_host

    host = metadata_host(override)
    try:
        check_metadata_server(host, timeout=METADATA_TIMEOUT)
    except (MetadataServerError, TransportError) as exc:
        attempts = (
            ("key file", "none passed"),
            (CREDENTIALS_ENV, "not set"),
            (f"metadata server {host}", _short_reason(exc)),
        )
        raise NoCredentialsError(attempts) from exc
    return host


def _short_reason(exc: MetadataServerError | TransportError) -> str:
    from ._metadata import FLAVOR_HEADER, FLAVOR_VALUE

    if isinstance(exc, MetadataServerError):
        return (
            f"HTTP {exc.status} without '{FLAVOR_HEADER}: {FLAVOR_VALUE}', so not "
            "a metadata server"
        )
    if isinstance(exc, RequestTimeoutError):
        return f"no response within {exc.timeout:g} s"
    # A transport message reads "what failed (reason): what to do next", and
    # the list keeps the part before the advice.
    text = str(exc)
    failure, separator, _ = text.partition("): ")
    if separator:
        return failure + ")"
    return text
