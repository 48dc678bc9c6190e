from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "labelops.audit"
    label = "audit"
    verbose_name = "Audit trail"
