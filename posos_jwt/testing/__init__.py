"""A local stand-in for Google's token endpoint and for Identity-Aware Proxy.

The stand-in is an independent implementation of Google's side, for tests and
for ``posos-jwt demo``. It serves HTTPS on 127.0.0.1 with a throwaway CA, checks
token requests as strictly as Google does, and responds with Google's error
texts.
It imports nothing from the rest of posos_jwt, and posos_jwt never imports it at
run time.

Example::

    with GoogleStandIn() as standin:
        key_info = standin.new_account()
        # Point the client at standin.token_uri, trust standin.ca_bundle,
        # and call standin.api_url with the ID token.

``ConnectProxy`` is a loopback-only CONNECT proxy for testing proxy settings.
"""

from posos_jwt.testing._accounts import write_key_file
from posos_jwt.testing._faults import Fault
from posos_jwt.testing._iap_signer import DEFAULT_BACKEND_AUDIENCE, IAP_JWT_HEADER
from posos_jwt.testing._metadata_server import MetadataRequest, MetadataServer
from posos_jwt.testing._proxy import ConnectProxy, ProxyTunnel
from posos_jwt.testing._records import ApiRequest, TokenRequest
from posos_jwt.testing._standin import DEFAULT_IAP_CLIENT_ID, GoogleStandIn

__all__ = [
    "DEFAULT_BACKEND_AUDIENCE",
    "DEFAULT_IAP_CLIENT_ID",
    "IAP_JWT_HEADER",
    "ApiRequest",
    "ConnectProxy",
    "Fault",
    "GoogleStandIn",
    "MetadataRequest",
    "MetadataServer",
    "ProxyTunnel",
    "TokenRequest",
    "write_key_file",
]
