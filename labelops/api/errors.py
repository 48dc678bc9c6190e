"""One error shape for the whole API.

Errors about the request as a whole are `{"detail": ..., "code": ...}`
(`code` is machine-readable: `not_found`, `permission_denied`,
`already_submitted`, ...); field errors keep DRF's `{"field": [messages]}`.

Domain services raise `django.core.exceptions.ValidationError` with messages
that name what is wrong, and `labelops.errors.DomainError`s (conflict 409,
forbidden 403, unavailable 503) with a message and a code; this handler
turns them into responses here, once, so views stay thin and never
catch-and-translate by hand.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from labelops.errors import DomainError


class DomainErrorResponse(exceptions.APIException):
    """A `DomainError` as DRF raises errors: its status, message and code."""

    def __init__(self, error: DomainError):
        self.status_code = error.status
        super().__init__(detail=error.message, code=error.code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = DomainErrorResponse(exc)
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    elif isinstance(exc, Http404):  # as DRF would, but here, so the code below sees an APIException
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        if isinstance(exc, exceptions.APIException) and not isinstance(detail, list):
            codes = exc.get_codes()
            response.data["code"] = codes.get("detail", exc.default_code) if isinstance(codes, dict) else codes
    return response
