from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labelops.projects"
    label = "projects"
    verbose_name = "Projects and taxonomies"

    def ready(self):
        from labelops import checks  # noqa: F401  registers the system checks
