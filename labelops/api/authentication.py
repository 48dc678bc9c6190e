"""API token authentication: DRF's `TokenAuthentication`, with the token's
user read by one SQL statement.

Every API request authenticates, and DRF's `select_related("user")` lookup
spent most of its ~1 ms building and compiling the query on the benchmark
machine (`python -m labelops.bench queue`); the statement itself is a
primary-key lookup. Behaviour is DRF's: the same header (`Authorization:
Token <key>`), the same errors for an unknown key or an inactive user.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


@cache
def _user_by_token_sql() -> str:
    user = get_user_model()._meta
    columns = ", ".join(f"u.{field.column}" for field in user.concrete_fields)
    return (f"SELECT {columns} FROM {user.db_table} u JOIN {Token._meta.db_table} t ON t.user_id = u.id "
            "WHERE t.key = %s")


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        user = next(iter(get_user_model().objects.raw(_user_by_token_sql(), [key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # `request.auth`: the token, its other fields loaded only if read.
        token = Token.from_db(user._state.db, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token
