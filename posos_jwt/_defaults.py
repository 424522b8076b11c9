"""Default values of the public API, which the command line shows in its help.

They live apart from the modules that use them, so that building the
``posos-jwt`` parser imports neither urllib3 nor pyjwt.
"""

from __future__ import annotations

from typing import Final

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds allowed for connecting, and again for each read. Google's token
endpoint responds in well under a second, so this leaves room for a slow proxy
while an outage is still reported quickly."""

MAX_TIMEOUT: Final = 3600.0
"""Largest timeout accepted, in seconds. A token request that takes longer is
broken, and the operating system rejects socket timeouts past a limit."""

DEFAULT_MAX_ATTEMPTS: Final = 3
"""Requests sent at most, the first included. Two retries ride out a restart
of one server behind Google's load balancer without hiding an outage."""

DEFAULT_RETRY_DEADLINE: Final = 30.0
"""Seconds from the first request within which every attempt must end: no
retry starts after it, and a retry's timeout is cut to the time left."""

DEFAULT_IAM_ENDPOINT: Final = "https://iamcredentials.googleapis.com"
"""Root URL of Google's IAM Service Account Credentials API."""

GOOGLE_CERTS_URL: Final = "https://www.googleapis.com/oauth2/v3/certs"
"""The JWK set of the keys that sign Google ID tokens."""

GOOGLE_CERTS_V1_URL: Final = "https://www.googleapis.com/oauth2/v1/certs"
"""The same keys as :data:`GOOGLE_CERTS_URL`, as a map of key IDs to PEM
certificates."""

IAP_CERTS_URL: Final = "https://www.gstatic.com/iap/verify/public_key-jwk"
"""The JWK set of the keys that sign IAP's ``x-goog-iap-jwt-assertion``."""

DEFAULT_MAX_BODY_SIZE: Final = 64 * 1024 * 1024
"""Largest API response body read into memory, in bytes. API responses (a FHIR
bundle, say) can exceed the token endpoint's 1 MiB cap, and 64 MiB still keeps a
runaway response from exhausting a server's memory. ``max_body_size=`` and the
command's ``--max-body-size`` change it."""

DEFAULT_API_MAX_TIME: Final = 300.0
"""Seconds within which a whole API response must arrive. The read timeout
bounds each read, so a server that sends a little at a time needs this limit
too. Five minutes leaves room for a 64 MiB body on a slow link."""
