from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labelops.projects"
    label = "projects"
    verbose_name = "Projects and taxonomies"

    def ready(self):
        from django.db.models.signals import post_migrate

        from labelops import checks  # noqa: F401  registers the system checks
        from labelops.projects import services

        # Keep the "Leads" group's admin permissions current after every migrate.
        post_migrate.connect(services.sync_leads_group, dispatch_uid="labelops.sync_leads_group")
