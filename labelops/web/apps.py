from django.apps import AppConfig


class WebConfig(AppConfig):
    """The browser interface: serves the built single-page app (frontend/)
    and the session login it relies on. No models; the app talks only to the
    API under /api/v1/."""

    name = "labelops.web"
    label = "web"
    verbose_name = "Browser interface"
