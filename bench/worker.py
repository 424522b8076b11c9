"""Measurements that run in a child process, one library per process.

``run.py`` starts this script once per measurement and side, so that each
library is imported alone and neither shares the interpreter lock with the
stand-in, which serves from the parent process. The result is one JSON object
on stdout.

Usage: ``python worker.py TASK SIDE CONFIG_JSON`` where TASK is ``hot``,
``threads`` or ``overhead``, SIDE is ``posos`` or ``google``, and CONFIG_JSON
is the object that ``scenarios.Setup.config`` builds.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Callable
from typing import Any

THREAD_COUNT = 64
"""Threads that start together on cold credentials in the ``threads`` task."""

HOT_CALLS = 20_000
"""Calls per timed batch in the ``hot`` task: enough for a batch of about
0.1 s, so that timer resolution does not matter."""

HOT_BATCHES = 7

OVERHEAD_REQUESTS = 100
"""Requests per timed batch in the ``overhead`` task."""

OVERHEAD_BATCHES = 9


def main(argv: list[str]) -> int:
    """Run one task for one side and print its result as JSON."""
    task, side, config_text = argv
    config: dict[str, Any] = json.loads(config_text)
    tasks: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
        "hot": hot_token,
        "threads": cold_threads,
        "overhead": request_overhead,
    }
    result = tasks[task](side, config)
    print(json.dumps(result))
    return 0


# Hot token


def hot_token(side: str, config: dict[str, Any]) -> dict[str, Any]:
    """Time getting a still-valid token and setting it as a header.

    posos-jwt: ``credentials.get_token()`` into an ``Authorization`` header.
    google-auth: ``credentials.before_request(...)``, which checks the token
    and sets the same header.
    """
    call = _posos_hot_call(config) if side == "posos" else _google_hot_call(config)
    call()
    totals = timeit.repeat(call, number=HOT_CALLS, repeat=HOT_BATCHES)
    per_call = [total / HOT_CALLS for total in totals]
    return {"seconds_per_call": statistics.median(per_call)}


def _posos_hot_call(config: dict[str, Any]) -> Callable[[], None]:
    import posos_jwt

    credentials = posos_jwt.IDTokenCredentials.from_service_account_file(
        config["key_file"],
        target_audience=config["audience"],
        token_uri=config["token_uri"],
        ca_bundle=config["ca_bundle"],
    )
    credentials.get_token()

    def call() -> None:
        headers: dict[str, str] = {}
        headers["Authorization"] = "Bearer " + credentials.get_token()

    return call


def _google_hot_call(config: dict[str, Any]) -> Callable[[], None]:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    # The google-auth key file names the stand-in as token_uri, and the
    # parent sets REQUESTS_CA_BUNDLE to the stand-in's CA.
    # google-auth has no type annotations.
    credentials = service_account.IDTokenCredentials.from_service_account_file(  # type: ignore[no-untyped-call]
        config["google_key_file"], target_audience=config["audience"]
    )
    request = Request()
    credentials.refresh(request)
    url = config["api_url"]

    def call() -> None:
        headers: dict[str, str] = {}
        credentials.before_request(request, "GET", url, headers)

    return call


# Cold start under threads


def cold_threads(side: str, config: dict[str, Any]) -> dict[str, Any]:
    """Start THREAD_COUNT authorized requests together on cold credentials.

    The credentials are built, and the key loaded, before the clock starts.
    The parent counts the token requests that reach the stand-in.
    """
    if side == "posos":
        send, client_name = _posos_cold_sender(config)
    else:
        send, client_name = _google_cold_sender(config)
    statuses: list[int] = []
    barrier = threading.Barrier(THREAD_COUNT + 1)

    def work() -> None:
        barrier.wait()
        statuses.append(send())

    threads = [threading.Thread(target=work) for _ in range(THREAD_COUNT)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ok = sum(1 for status in statuses if status == 200)
    return {
        "seconds": elapsed,
        "ok": ok,
        "threads": THREAD_COUNT,
        "client": client_name,
    }


def _posos_cold_sender(config: dict[str, Any]) -> tuple[Callable[[], int], str]:
    import posos_jwt

    key = posos_jwt.ServiceAccountKey.from_file(config["key_file"])
    credentials = posos_jwt.IDTokenCredentials(
        key,
        config["audience"],
        token_uri=config["token_uri"],
        ca_bundle=config["ca_bundle"],
    )
    return _posos_client(posos_jwt, credentials, config["api_url"])


def _google_cold_sender(config: dict[str, Any]) -> tuple[Callable[[], int], str]:
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2 import service_account

    # google-auth has no type annotations.
    credentials = service_account.IDTokenCredentials.from_service_account_file(  # type: ignore[no-untyped-call]
        config["google_key_file"], target_audience=config["audience"]
    )
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    url = config["api_url"]

    def send() -> int:
        status: int = session.get(url).status_code
        return status

    return send, "AuthorizedSession(credentials).get"


def _posos_client(
    posos_jwt: Any, credentials: Any, url: str
) -> tuple[Callable[[], int], str]:
    """Return a function that sends one authorized GET, and its description.

    ``posos_jwt.AuthorizedHTTP`` is used when this version of posos-jwt has
    it. Otherwise the token goes by hand into a request through the
    credentials' own transport, which is what such a client would do.
    """
    authorized_http = getattr(posos_jwt, "AuthorizedHTTP", None)
    if authorized_http is not None:
        client = authorized_http(credentials)

        def send_authorized() -> int:
            status: int = client.request("GET", url).status
            return status

        return send_authorized, "AuthorizedHTTP(credentials).request"

    transport = credentials.transport

    def send_by_hand() -> int:
        headers = {"Authorization": "Bearer " + credentials.get_token()}
        status: int = transport.request("GET", url, headers=headers).status
        return status

    return send_by_hand, "credentials.transport.request with the header set by hand"


# Authorized request overhead


def request_overhead(side: str, config: dict[str, Any]) -> dict[str, Any]:
    """Time authorized GETs with posos-jwt against plain urllib3, in turns.

    Both keep one connection alive to the stand-in's protected API. The plain
    urllib3 client sends a fixed header holding a token fetched beforehand.
    """
    del side
    import ssl

    import urllib3

    import posos_jwt

    credentials = posos_jwt.IDTokenCredentials.from_service_account_file(
        config["key_file"],
        target_audience=config["audience"],
        token_uri=config["token_uri"],
        ca_bundle=config["ca_bundle"],
    )
    send, client_name = _posos_client(posos_jwt, credentials, config["api_url"])
    pool = urllib3.PoolManager(
        ssl_context=ssl.create_default_context(cafile=config["ca_bundle"]),
        timeout=urllib3.Timeout(connect=10.0, read=10.0),
        retries=False,
    )
    headers = {"Authorization": "Bearer " + credentials.get_token()}
    url = config["api_url"]

    def send_plain() -> int:
        status: int = pool.request("GET", url, headers=headers).status
        return status

    # One request each first, so that neither batch pays a TLS handshake.
    send()
    send_plain()
    posos_times: list[float] = []
    plain_times: list[float] = []
    for _ in range(OVERHEAD_BATCHES):
        posos_times.append(_time_requests(send))
        plain_times.append(_time_requests(send_plain))
    return {
        "posos_seconds_per_request": statistics.median(posos_times),
        "plain_seconds_per_request": statistics.median(plain_times),
        "client": client_name,
    }


def _time_requests(send: Callable[[], int]) -> float:
    start = time.perf_counter()
    for _ in range(OVERHEAD_REQUESTS):
        status = send()
        if status != 200:
            raise RuntimeError(f"protected API returned HTTP {status}, expected 200")
    return (time.perf_counter() - start) / OVERHEAD_REQUESTS


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
