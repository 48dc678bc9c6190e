"""The browser app's pages: index.html for every client route, the missing
build named loudly, sign-in and sign-out, and the CSRF contract the app's
API calls rely on."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

INDEX = (
    '<!doctype html><html><body><div id="root"></div>'
    '<script type="module" src="/static/frontend/assets/app-1a2b.js"></script></body></html>'
)


@pytest.fixture
def built_app(tmp_path, settings):
    """A stand-in build: an index.html and one hashed asset under FRONTEND_DIST."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-1a2b.js").write_text("console.log('app');\n")
    settings.FRONTEND_DIST = dist
    settings.STATICFILES_DIRS = [("frontend", dist)]
    return dist


def signed_in(user, **client_options) -> Client:
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ["/", "/app/", "/app/projects/3/annotate", "/app/no/such/screen"])
def test_every_app_route_serves_the_index(built_app, annotator, path):
    response = signed_in(annotator).get(path)
    assert response.status_code == 200
    assert response.content.decode() == INDEX
    assert response["Content-Type"] == "text/html; charset=utf-8"
    # The page always revalidates (it names the current hashed assets) and forbids inline script.
    assert response["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    # The app sends this cookie's value as X-CSRFToken on every write.
    assert response.cookies["csrftoken"].value


def test_the_app_asks_anonymous_visitors_to_sign_in(built_app, db):
    response = Client().get("/app/projects/3/annotate")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/app/projects/3/annotate"


def test_the_app_refuses_writes(built_app, annotator):
    assert signed_in(annotator).post("/app/").status_code == 405


def test_a_missing_build_fails_loudly_naming_the_fix(tmp_path, settings, annotator):
    settings.FRONTEND_DIST = tmp_path / "never-built"
    response = signed_in(annotator).get("/app/")
    assert response.status_code == 503
    text = response.content.decode()
    assert "The LabelOps browser interface is not built" in text
    assert str(tmp_path / "never-built" / "index.html") in text
    assert "npm run build" in text and "make demo" in text


def test_collectstatic_publishes_the_hashed_assets_under_static_frontend(built_app, tmp_path, settings):
    """Production (WhiteNoise) serves STATIC_ROOT; the build lands in it as /static/frontend/..."""
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "static" / "frontend" / "assets" / "app-1a2b.js").read_text() == "console.log('app');\n"
    assert (tmp_path / "static" / "frontend" / "index.html").exists()


# --- sign in, sign out ---------------------------------------------------------------


def test_the_login_page_is_a_plain_form_with_csrf(db):
    response = Client().get("/login/?next=/app/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'name="next" value="/app/"' in page


def test_signing_in_goes_to_next_or_to_the_app(annotator):
    client = Client()
    response = client.post("/login/", {"username": "annotator", "password": "pw-annotator",
                                       "next": "/app/projects/1/annotate"})
    assert response.status_code == 302
    assert response["Location"] == "/app/projects/1/annotate"
    response = Client().post("/login/", {"username": "annotator", "password": "pw-annotator"})
    assert response["Location"] == "/app/"


def test_signing_in_never_redirects_off_site(annotator):
    response = Client().post("/login/", {"username": "annotator", "password": "pw-annotator",
                                         "next": "https://evil.example/steal"})
    assert response.status_code == 302
    assert response["Location"] == "/app/"


def test_a_wrong_password_says_so_and_signs_nobody_in(annotator):
    client = Client()
    response = client.post("/login/", {"username": "annotator", "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_out_takes_a_post_and_ends_the_session(annotator):
    client = signed_in(annotator)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/api/v1/projects/").status_code == 401


# --- the API with the session, as the app calls it ---------------------------------------


def test_session_writes_to_the_api_need_the_csrf_header(built_app, project, annotator):
    client = signed_in(annotator, enforce_csrf_checks=True)
    url = f"/api/v1/projects/{project.pk}/queue/next/"
    refused = client.post(url)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/app/")  # the app's page sets the cookie the app reads
    token = client.cookies["csrftoken"].value
    assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 204  # signed in, nothing to label yet
    assert client.get(f"/api/v1/projects/{project.pk}/").json()["role"] == "annotator"
