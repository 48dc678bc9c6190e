from django.apps import AppConfig


class ItemsConfig(AppConfig):
    name = "labelops.items"
    label = "items"
    verbose_name = "Items, import and export"
