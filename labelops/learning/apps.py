from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "labelops.learning"
    label = "learning"
    verbose_name = "Training rounds and models"
