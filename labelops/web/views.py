"""Serving the single-page app built from `frontend/` (see frontend/README.md).

Django serves one HTML page for every client-side route under /app/; the page
loads its hashed scripts from staticfiles (WhiteNoise in production, after
`collectstatic`) and then talks only to /api/v1/ with the session cookie and
the CSRF token. Sign-in is Django's own LoginView (see urls.py).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

NOT_BUILT = (
    "The LabelOps browser interface is not built: {index} does not exist.\n"
    "Build it with `make frontend` or `make demo` (or `cd frontend && npm install --no-save && npm run build`),\n"
    "then run `python manage.py collectstatic` if WhiteNoise serves from STATIC_ROOT.\n"
    "The API (/api/v1/) and the admin (/admin/) work without it.\n"
)

# The page's only script and style come from our own origin (Vite emits no
# inline code); item content is rendered as text by React, and this policy is
# the second line of defence should any of it ever reach the DOM as markup.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


@require_safe
@login_required
@ensure_csrf_cookie  # the app reads the csrftoken cookie for X-CSRFToken on writes
def app(request, path: str = ""):
    """index.html of the built app, for `/` and any `/app/...` route.

    A missing build is a 503 naming the command that fixes it, never a blank
    page: without the scripts the page would render nothing and say nothing."""
    index = settings.FRONTEND_DIST / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except FileNotFoundError:
        logger.error("frontend not built: %s is missing", index)
        return HttpResponse(NOT_BUILT.format(index=index), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The page names the current hashed assets: always revalidate it.
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
