"""Sign and send assertions until the token endpoint returns an ID token.

One call makes up to ``RetryPolicy.max_attempts`` attempts. Each attempt signs
a new assertion with the corrected clock and sends it once. When Google
rejects the assertion's times and the response's ``Date`` shows a new clock
offset, the same attempt signs and sends once more with that offset.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from ._assertion import build_assertion
from ._errors import ClockSkewError
from ._exchange import RequestContext, TokenResponse, exchange_assertion
from ._keyfile import ServiceAccountKey
from ._retry import RetryPolicy, call_with_retries
from ._skew import CorrectedClock
from ._transport import Transport

logger = logging.getLogger(__name__)


def request_token(
    key: ServiceAccountKey,
    target_audience: str,
    *,
    token_uri: str,
    transport: Transport,
    clock: CorrectedClock,
    retry: RetryPolicy,
) -> TokenResponse:
    """Get an ID token for ``target_audience``, retrying what may pass.

    Every response's ``Date`` updates ``clock``, so that a token from a server
    far ahead is also checked against the server's time.

    Raises:
        TokenEndpointError: The last attempt was rejected; a subclass names a
            known cause, and ``attempts`` counts the attempts.
        TransportError: The last attempt failed below HTTP.
    """
    context = RequestContext(
        client_email=key.client_email,
        key_id=key.private_key_id,
        audience=target_audience,
    )
    host = urlsplit(token_uri).hostname or token_uri

    def send(time_left: float) -> TokenResponse:
        assertion = build_assertion(key, target_audience, now=clock.time())
        return exchange_assertion(
            transport,
            token_uri,
            assertion,
            context=context,
            local_clock=clock.local.time,
            timeout=time_left,
        )

    def attempt(time_left: float) -> TokenResponse:
        try:
            response = send(time_left)
        except ClockSkewError as exc:
            # A second assertion helps only when the offset has changed.
            if not clock.adopt(exc.local_time, exc.server_time, host):
                raise
            logger.debug("signing the assertion again with the corrected clock")
            response = send(time_left)
        clock.adopt(response.local_time, response.server_time, host)
        return response

    return call_with_retries(attempt, retry)
