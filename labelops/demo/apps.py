from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: a loader for the demo project and a runner for web + worker.
    No models; kept apart so the domain apps carry nothing demo-specific."""

    name = "labelops.demo"
    label = "demo"
