"""GoogleStandIn: Google's token endpoint, published keys, and IAP on one server."""

from __future__ import annotations

import hashlib
import itertools
import logging
import pathlib
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from posos_jwt.testing._accounts import (
    ACCOUNT_DOMAIN_SUFFIX,
    CLIENT_ID_DIGITS,
    DEFAULT_PROJECT_ID,
    MIN_KEY_SIZE,
    AccountRegistry,
    RegisteredKey,
    ServiceAccount,
    build_key_info,
    load_public_key,
    new_client_id,
    new_key_id,
    project_id_from_email,
)
from posos_jwt.testing._ca import TlsFiles, make_server_context, write_tls_files
from posos_jwt.testing._faults import Fault, FaultQueues
from posos_jwt.testing._http import Request, Response
from posos_jwt.testing._iam import (
    IamContext,
    handle_generate_id_token,
    issue_access_token,
)
from posos_jwt.testing._iap import IapContext, find_credentials, handle_api_request
from posos_jwt.testing._iap_signer import (
    DEFAULT_BACKEND_AUDIENCE,
    IAP_JWT_LIFETIME,
    IapSigner,
    build_iap_claims,
)
from posos_jwt.testing._records import (
    ApiRequest,
    RequestLog,
    TokenRequest,
    parse_form_leniently,
)
from posos_jwt.testing._routes import (
    API_PATH,
    CERTS_V1_PATH,
    IAP_JWK_PATH,
    JWKS_PATH,
    TOKEN_PATH,
    fault_response,
    handle_certs_request,
    handle_iap_keys_request,
    not_found,
    route_for,
)
from posos_jwt.testing._server import StandInServer
from posos_jwt.testing._signer import IdTokenSigner
from posos_jwt.testing._token_endpoint import (
    ACCESS_TOKEN_LIFETIME,
    TokenContext,
    apply_claim_overrides,
    build_id_token_claims,
    handle_token_request,
)

_LOGGER: Final = logging.getLogger(__name__)

DEFAULT_IAP_CLIENT_ID: Final = (
    "123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
)
"""The IAP OAuth client id that the stand-in expects unless the constructor gets
another. It has the form of a real one and names no real client."""

DEFAULT_TOKEN_LIFETIME: Final = 3600
"""Lifetime of issued ID tokens in seconds, the one hour of Google's."""

SHUTDOWN_POLL_INTERVAL: Final = 0.05
"""Seconds between the server loop's checks for stop(). The default of 0.5 would
make each stop() take up to half a second."""

STOP_TIMEOUT: Final = 5.0
"""Seconds that stop() waits for the server thread to end."""


class GoogleStandIn:
    """A local stand-in for Google's token endpoint and for IAP, over HTTPS.

    Tests point the library at :attr:`token_uri` and :attr:`api_url`, and trust
    :attr:`ca_bundle`. Accounts, keys and faults can be added before or after
    :meth:`start`, and from any thread.

    Attributes:
        iap_client_id: The OAuth client id that IAP expects as ``aud``.
        iap_backend_audience: The ``aud`` of the ``x-goog-iap-jwt-assertion``
            header that IAP signs for the echo API behind it.
        token_lifetime: Lifetime of issued ID tokens, in seconds.
        clock_offset: Seconds added to ``time.time()`` for everything the
            stand-in does: checking ``iat`` and ``exp``, issuing tokens, and the
            ``Date`` header. The TLS certificates follow the real clock.
        accept_self_signed_jwts: Whether IAP accepts JWTs that a registered
            service account signed with its own key, as well as ID tokens.
    """

    def __init__(
        self,
        *,
        iap_client_id: str = DEFAULT_IAP_CLIENT_ID,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
        iap_backend_audience: str = DEFAULT_BACKEND_AUDIENCE,
    ) -> None:
        """Create a stopped stand-in with new signing keys and no accounts.

        Args:
            iap_client_id: The OAuth client id that IAP expects as ``aud``.
            token_lifetime: Lifetime of issued ID tokens, in seconds.
            iap_backend_audience: The ``aud`` of IAP's signed header for the
                echo API, ``/projects/NUMBER/global/backendServices/ID``.
        """
        self.iap_client_id = iap_client_id
        self.iap_backend_audience = iap_backend_audience
        self._iap_signer = IapSigner()
        self.token_lifetime = token_lifetime
        self.clock_offset = 0.0
        self.accept_self_signed_jwts = True
        self._grants_lock = threading.Lock()
        self._token_creator_grants: frozenset[tuple[str, str]] = frozenset()
        self._accounts = AccountRegistry()
        self._faults = FaultQueues()
        self._log = RequestLog()
        self._signer = IdTokenSigner()
        self._account_numbers = itertools.count(1)
        self._server: StandInServer | None = None
        self._thread: threading.Thread | None = None
        self._directory: pathlib.Path | None = None
        self._tls_files: TlsFiles | None = None
        # Kept after stop(), for requests that were in flight when it ran.
        self._last_base_url = ""

    # Lifecycle

    def start(self) -> GoogleStandIn:
        """Write a new CA and server certificate, and serve in a daemon thread.

        Returns:
            The stand-in itself, so that ``standin = GoogleStandIn().start()``
            works.

        Raises:
            RuntimeError: If the stand-in is running already.
        """
        if self._server is not None:
            raise RuntimeError("the stand-in is running already: call stop() first")
        self._directory = pathlib.Path(tempfile.mkdtemp(prefix="posos-jwt-standin-"))
        self._tls_files = write_tls_files(self._directory)
        context = make_server_context(self._tls_files)
        self._server = StandInServer(self._respond, self.now, context)
        self._last_base_url = f"https://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_INTERVAL,),
            name="posos-jwt-standin",
            daemon=True,
        )
        self._thread.start()
        _LOGGER.info("stand-in started at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections, and delete the CA files.

        Stopping a stand-in that is not running does nothing.
        """
        server, thread, directory = self._server, self._thread, self._directory
        if server is None:
            return
        self._server = self._thread = self._directory = self._tls_files = None
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(STOP_TIMEOUT)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        _LOGGER.info("stand-in on port %d stopped", server.port)

    def __enter__(self) -> GoogleStandIn:
        """Start the stand-in and return it."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the stand-in."""
        self.stop()

    # Addresses

    @property
    def base_url(self) -> str:
        """The server's URL, ``https://127.0.0.1:PORT``.

        Raises:
            RuntimeError: If the stand-in is not running.
        """
        if self._server is None:
            raise RuntimeError("the stand-in is not running: call start() first")
        return self._last_base_url

    @property
    def token_uri(self) -> str:
        """The token endpoint's URL."""
        return self.base_url + TOKEN_PATH

    @property
    def jwks_uri(self) -> str:
        """The URL of the JWK set of the ID-token signing key."""
        return self.base_url + JWKS_PATH

    @property
    def certs_v1_uri(self) -> str:
        """The URL of the map from key id to PEM certificate."""
        return self.base_url + CERTS_V1_PATH

    @property
    def iap_jwk_uri(self) -> str:
        """The URL of the JWK set of IAP's key, which signs its forwarded header."""
        return self.base_url + IAP_JWK_PATH

    @property
    def api_url(self) -> str:
        """The URL of the IAP-protected echo API. Paths under it work too."""
        return self.base_url + API_PATH

    @property
    def iam_endpoint(self) -> str:
        """The root URL of the IAM Credentials API, the server's own URL."""
        return self.base_url

    @property
    def ca_bundle(self) -> str:
        """The path of the PEM file of the CA that signed the server certificate.

        Raises:
            RuntimeError: If the stand-in is not running.
        """
        if self._tls_files is None:
            raise RuntimeError("the stand-in is not running: call start() first")
        return str(self._tls_files.ca_bundle)

    def now(self) -> float:
        """Return the stand-in's time: ``time.time()`` plus :attr:`clock_offset`."""
        return time.time() + self.clock_offset

    # Accounts and keys

    def new_account(
        self, email: str | None = None, *, key_size: int = 2048
    ) -> dict[str, str]:
        """Create a service account with a new RSA key.

        Args:
            email: The account's email. None makes one of the form
                ``standin-N@posos-standin.iam.gserviceaccount.com``.
            key_size: The RSA key size in bits. The token endpoint rejects
                signatures by keys under 2048 bits, as "Invalid JWT Signature.".

        Returns:
            The key file as a mapping, with Google's fields in Google's order and
            Google's real ``token_uri``.

        Raises:
            ValueError: If the email is taken or the key size is under 1024.
        """
        if key_size < MIN_KEY_SIZE:
            raise ValueError(f"key_size must be {MIN_KEY_SIZE} or more, got {key_size}")
        email = email or self._new_email()
        client_id = new_client_id()
        account = ServiceAccount(email, client_id, project_id_from_email(email))
        if self._accounts.add_account(account) is not account:
            raise ValueError(f"service account {email!r} exists: use add_key()")
        return self._add_generated_key(account, key_size)

    def register_account(
        self, key_info: Mapping[str, str], *, password: bytes | None = None
    ) -> None:
        """Register the account and key of an existing key file.

        If the account exists, the key is added to it. The private key may be in
        any form that :func:`load_public_key` reads, which includes every
        service-account file under vendor_fixtures/keys.

        Args:
            key_info: A key-file mapping of type ``service_account``.
            password: The password of an encrypted private key.

        Raises:
            ValueError: If the mapping is not a service-account key, lacks
                ``client_email``, ``private_key_id`` or ``private_key``, has an
                unreadable key, or reuses a key id of another key.
        """
        if key_info.get("type") != "service_account":
            key_type = key_info.get("type")
            raise ValueError(f"key type is {key_type!r}, not service_account")
        fields = {}
        for name in ("client_email", "private_key_id", "private_key"):
            value = key_info.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"key file has no {name}")
            fields[name] = value
        public_key = load_public_key(fields["private_key"], password)
        account = self._accounts.add_account(self._account_from(key_info))
        key = RegisteredKey(fields["private_key_id"], account.email, public_key)
        self._accounts.add_key(key)

    def add_key(self, email: str) -> dict[str, str]:
        """Create another key for an existing account, as in a key rotation.

        Args:
            email: The account's email.

        Returns:
            The key file of the new key as a mapping.

        Raises:
            KeyError: If no account has this email.
        """
        account = self._accounts.find_account(email)
        if account is None:
            raise KeyError(f"no service account {email!r}: create it first")
        return self._add_generated_key(account, 2048)

    def revoke_key(self, private_key_id: str) -> None:
        """Revoke a key: assertions it signs now get "Invalid JWT Signature.".

        Raises:
            KeyError: If no key has this id.
        """
        self._accounts.revoke_key(private_key_id)

    def delete_account(self, email: str) -> None:
        """Delete an account: its assertions now get "account not found".

        Raises:
            KeyError: If no account has this email.
        """
        self._accounts.delete_account(email)

    def _new_email(self) -> str:
        while True:
            number = next(self._account_numbers)
            email = f"standin-{number}@{DEFAULT_PROJECT_ID}{ACCOUNT_DOMAIN_SUFFIX}"
            if self._accounts.find_account(email) is None:
                return email

    def _account_from(self, key_info: Mapping[str, str]) -> ServiceAccount:
        email = key_info["client_email"]
        client_id = key_info.get("client_id", "")
        if not (isinstance(client_id, str) and client_id.isdigit()):
            client_id = new_client_id()
        project_id = key_info.get("project_id") or project_id_from_email(email)
        return ServiceAccount(email, client_id, project_id)

    def _add_generated_key(
        self, account: ServiceAccount, key_size: int
    ) -> dict[str, str]:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        key_id = new_key_id()
        registered = RegisteredKey(key_id, account.email, private_key.public_key())
        self._accounts.add_key(registered)
        return build_key_info(account, key_id, private_key)

    # Faults and records

    def push_fault(self, route: str, fault: Fault) -> None:
        """Queue a fault for the next request on a route that has none queued.

        Faults on a route are used first in, first out, one per request.

        Args:
            route: "token", "api", "certs", "iap_keys" or "iam".
            fault: The fault.

        Raises:
            ValueError: If the route is unknown, or if the fault has token-only
                options and the route is not "token".
        """
        self._faults.push(route, fault)

    def clear_faults(self) -> None:
        """Drop every fault not used yet, on every route."""
        self._faults.clear()

    def count(self, route: str) -> int:
        """Return the number of requests received on a route, faulted ones included.

        Raises:
            ValueError: If the route is not "token", "api", "certs", "iap_keys"
                or "iam".
        """
        return self._log.count(route)

    def reset_counts(self) -> None:
        """Set every route's count to zero and clear the request records."""
        self._log.reset()

    @property
    def token_requests(self) -> list[TokenRequest]:
        """A copy of the records of requests on ``/token``, oldest first."""
        return self._log.token_requests()

    @property
    def api_requests(self) -> list[ApiRequest]:
        """A copy of the records of requests on ``/api``, oldest first."""
        return self._log.api_requests()

    # Tokens

    def issue_id_token(
        self,
        audience: str,
        email: str,
        *,
        lifetime: int | None = None,
        **extra_claims: object,
    ) -> str:
        """Sign an ID token directly, as the token endpoint would issue it.

        Args:
            audience: The ``aud`` claim.
            email: The ``email`` claim. An unregistered email is allowed, and its
                ``sub`` is then a number derived from the email.
            lifetime: Seconds from ``iat`` to ``exp``, :attr:`token_lifetime` if
                None. A negative lifetime makes an expired token.
            **extra_claims: Claims that replace or add to the usual ones. A
                claim set to None is removed.

        Returns:
            The signed token.
        """
        account = self._accounts.find_account(email) or _unregistered_account(email)
        if lifetime is None:
            lifetime = self.token_lifetime
        claims = build_id_token_claims(account, audience, self.now(), lifetime)
        return self._signer.sign(apply_claim_overrides(claims, extra_claims))

    def issue_access_token(self, email: str) -> str:
        """Issue an OAuth access token for ``email``, as the token endpoint does.

        The IAM Credentials API accepts it until it expires, like Google's.
        """
        return issue_access_token(
            self._signer, email, self.now(), ACCESS_TOKEN_LIFETIME
        )

    def grant_token_creator(self, source_email: str, target_email: str) -> None:
        """Grant ``roles/iam.serviceAccountOpenIdTokenCreator`` on the target.

        The source account may then get ID tokens for the target from
        ``generateIdToken``.
        """
        with self._grants_lock:
            grant = (source_email, target_email)
            self._token_creator_grants = self._token_creator_grants | {grant}

    def revoke_token_creator(self, source_email: str, target_email: str) -> None:
        """Remove a grant made by :meth:`grant_token_creator`, if there is one."""
        with self._grants_lock:
            grant = (source_email, target_email)
            self._token_creator_grants = self._token_creator_grants - {grant}

    def issue_id_token_without_email(self, audience: str, email: str) -> str:
        """Sign an ID token with no ``email`` or ``email_verified`` claim.

        Google issues these when the request does not ask for the email: the
        metadata server without ``format=full``, and ``generateIdToken``
        without ``includeEmail``. IAP rejects them.
        """
        account = self._accounts.find_account(email) or _unregistered_account(email)
        claims = build_id_token_claims(
            account, audience, self.now(), self.token_lifetime
        )
        claims.pop("email", None)
        claims.pop("email_verified", None)
        return self._signer.sign(claims)

    def issue_iap_jwt(
        self,
        email: str,
        *,
        audience: str | None = None,
        lifetime: int = IAP_JWT_LIFETIME,
        **extra_claims: object,
    ) -> str:
        """Sign an ``x-goog-iap-jwt-assertion`` value as IAP would forward it.

        Args:
            email: The ``email`` claim, the user that IAP let through. Its
                ``sub`` is ``accounts.google.com:`` and the account's number.
            audience: The ``aud`` claim, :attr:`iap_backend_audience` if None.
                Give another to make a header for another backend.
            lifetime: Seconds from ``iat`` to ``exp``. A negative lifetime
                makes an expired header.
            **extra_claims: Claims that replace or add to the usual ones. A
                claim set to None is removed.

        Returns:
            The signed JWT.
        """
        account = self._accounts.find_account(email) or _unregistered_account(email)
        claims = build_iap_claims(
            email, account.client_id, audience or self.iap_backend_audience, self.now()
        )
        claims["exp"] = claims["iat"] + lifetime
        return self._iap_signer.sign(apply_claim_overrides(claims, extra_claims))

    def _sign_forwarded_header(self, token_claims: Mapping[str, object]) -> str:
        claims = build_iap_claims(
            str(token_claims["email"]),
            str(token_claims.get("sub", "")),
            self.iap_backend_audience,
            self.now(),
        )
        return self._iap_signer.sign(claims)

    # Request handling, called by the server in its handler threads

    def _respond(self, request: Request) -> Response | None:
        route = route_for(request.path)
        if route is None:
            return not_found(request.path)
        self._log.count_request(route)
        if route == "token":
            form = parse_form_leniently(request.body)
            record = TokenRequest(request.method, form, request.headers, request.body)
            self._log.add_token_request(record)
        fault = self._faults.pop(route)
        if fault is None or fault.keeps_normal_response:
            return self._respond_normally(route, request, fault)
        return self._apply_fault(route, request, fault)

    def _apply_fault(
        self, route: str, request: Request, fault: Fault
    ) -> Response | None:
        time.sleep(fault.delay)
        if not fault.drop and fault.status is None:
            return self._respond_normally(route, request, fault)
        if route == "api":
            self._log.add_api_request(_rejected_api_request(request))
        if fault.drop:
            return None
        return fault_response(fault)

    def _respond_normally(
        self, route: str, request: Request, fault: Fault | None
    ) -> Response:
        if route == "token":
            context = TokenContext(
                self._accounts, self._signer, self.now(), self.token_lifetime, fault
            )
            return handle_token_request(request, context)
        if route == "api":
            accounts = self._accounts if self.accept_self_signed_jwts else None
            iap = IapContext(
                self._signer,
                self.iap_client_id,
                self.now(),
                self._last_base_url,
                accounts=accounts,
                sign_forwarded_header=self._sign_forwarded_header,
            )
            response, record = handle_api_request(request, iap)
            self._log.add_api_request(record)
            return response
        if route == "iam":
            iam = IamContext(
                self._signer,
                self._accounts,
                self._token_creator_grants,
                self.now(),
                self._issue_id_token_for,
            )
            return handle_generate_id_token(request, iam)
        if route == "iap_keys":
            return handle_iap_keys_request(request, self._iap_signer)
        return handle_certs_request(request, self._signer)

    def _issue_id_token_for(
        self, audience: str, email: str, include_email: bool
    ) -> str:
        if include_email:
            return self.issue_id_token(audience, email)
        return self.issue_id_token_without_email(audience, email)


def _unregistered_account(email: str) -> ServiceAccount:
    # A stable sub for the same email, so that tests can compare tokens.
    digest = int.from_bytes(hashlib.sha256(email.encode("utf-8")).digest(), "big")
    smallest = 10 ** (CLIENT_ID_DIGITS - 1)
    client_id = str(smallest + digest % (9 * smallest))
    return ServiceAccount(email, client_id, project_id_from_email(email))


def _rejected_api_request(request: Request) -> ApiRequest:
    header_used, _ = find_credentials(request.headers)
    return ApiRequest(
        request.method, request.path, request.query, None, None, header_used
    )
