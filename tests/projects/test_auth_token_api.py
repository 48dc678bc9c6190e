"""/api/v1/auth/token/: a username and password buy a token for `Authorization: Token ...`."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_token_opens_the_api(project, lead, urls):
    client = APIClient()
    response = client.post(urls("auth-token"), {"username": "lead", "password": "pw-lead"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(urls("project-list"))
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [project.pk]


def test_the_same_user_gets_the_same_token(lead, urls):
    client = APIClient()
    first = client.post(urls("auth-token"), {"username": "lead", "password": "pw-lead"}).json()["token"]
    again = client.post(urls("auth-token"), {"username": "lead", "password": "pw-lead"}).json()["token"]
    assert first == again


def test_a_wrong_password_gets_no_token(lead, urls):
    response = APIClient().post(urls("auth-token"), {"username": "lead", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_a_bad_token_is_refused(urls):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get(urls("project-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"] == "Invalid token."


def test_the_token_of_a_deactivated_user_is_refused(lead, urls):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=lead)
    lead.is_active = False
    lead.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(urls("project-list"))
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_the_request_carries_the_user_and_the_token(lead, rf):
    from rest_framework.authtoken.models import Token

    from labelops.api.authentication import TokenAuthentication

    token = Token.objects.create(user=lead)
    user, auth = TokenAuthentication().authenticate(rf.get("/", HTTP_AUTHORIZATION=f"Token {token.key}"))
    assert (user, user.username, auth, auth.user) == (lead, "lead", token, lead)
    assert auth.created == token.created  # the rest of the token loads when read


def test_password_guessing_is_throttled(lead, urls, settings):
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    statuses = [
        client.post(urls("auth-token"), {"username": "lead", "password": f"guess{n}"}, format="json").status_code
        for n in range(25)
    ]
    cache.clear()
    assert statuses[:20] == [400] * 20
    assert statuses[20:] == [429] * 5
