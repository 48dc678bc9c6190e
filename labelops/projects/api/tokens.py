"""API tokens: a username and password exchanged for a token (not
project-specific; it lives here until the API has an accounts app)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


@extend_schema(tags=["auth"], summary="Exchange a username and password for an API token")
class ObtainToken(ObtainAuthToken):
    """Send `Authorization: Token <token>` with later requests. The token stays
    valid until it is deleted (in the admin); the browser app uses the session."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
