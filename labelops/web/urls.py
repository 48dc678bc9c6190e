"""The browser interface's pages: sign in and out, and the single-page app.

Included last by `labelops.urls`, so /api/, /admin/ and /static/ win. Every
path under /app/ is a client-side route and gets the same index.html.
"""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from labelops.web import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    # POST only (Django's LogoutView refuses GET), so a link cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("", views.app, name="web-app-root"),
    re_path(r"^app/(?P<path>.*)$", views.app, name="web-app"),
]
