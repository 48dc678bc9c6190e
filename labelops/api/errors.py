"""One error shape for the whole API: {"detail": ..., "code": ...}.

Domain services raise `django.core.exceptions.ValidationError` with messages
that name what is wrong; this handler turns them into 400 responses instead
of 500s, so views stay thin and never catch-and-translate by hand.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"detail": exc.messages})
    return drf_exception_handler(exc, context)
