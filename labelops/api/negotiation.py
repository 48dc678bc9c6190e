"""Content negotiation for views that answer with a file."""

from rest_framework.negotiation import BaseContentNegotiation


class BinaryNegotiation(BaseContentNegotiation):
    """For views whose success is a file, not a rendered body: accept any
    `Accept` header (an <img> asks for image/*) and leave `?format=` to the
    view (DRF would otherwise read it as a renderer name). Errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
