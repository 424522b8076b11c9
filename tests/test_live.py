"""The same flow against Google itself, run only with real credentials.

Set POSOS_JWT_LIVE_KEY_FILE to a service-account key file and
POSOS_JWT_LIVE_CLIENT_ID to the OAuth client ID of an IAP resource, then run
``pytest -m live``. POSOS_JWT_LIVE_URL, if set, is an IAP-protected URL that
the token must open.
"""

from __future__ import annotations

import os

import pytest
import urllib3

from posos_jwt import IDTokenCredentials

KEY_FILE = os.environ.get("POSOS_JWT_LIVE_KEY_FILE")
CLIENT_ID = os.environ.get("POSOS_JWT_LIVE_CLIENT_ID")
API_URL = os.environ.get("POSOS_JWT_LIVE_URL")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (KEY_FILE and CLIENT_ID),
        reason="set POSOS_JWT_LIVE_KEY_FILE and POSOS_JWT_LIVE_CLIENT_ID",
    ),
]


def test_live_token_from_google() -> None:
    assert KEY_FILE is not None
    assert CLIENT_ID is not None
    credentials = IDTokenCredentials.from_service_account_file(
        KEY_FILE, target_audience=CLIENT_ID
    )
    token = credentials.get_id_token()
    assert token.audience == CLIENT_ID
    assert token.email == credentials.service_account_email
    assert token.claims["iss"] == "https://accounts.google.com"
    if API_URL:
        response = urllib3.request(
            "GET", API_URL, headers={"Authorization": "Bearer " + token.value}
        )
        assert response.status != 401
