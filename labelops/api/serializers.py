"""Serializer plumbing every app's API shares."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

# Sent by HTML forms of the browsable API; never a field.
_FORM_KEYS = {"csrfmiddlewaretoken"}


class StrictFieldsMixin:
    """Refuse unknown keys in the request body (read-only fields are known
    and ignored, so a client may send back what it was given)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - _FORM_KEYS)
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


class StrictInput(StrictFieldsMixin, serializers.Serializer):
    """Request bodies refuse unknown keys: a typo is a 400 naming it."""
