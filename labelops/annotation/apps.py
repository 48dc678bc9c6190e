from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "labelops.annotation"
    label = "annotation"
    verbose_name = "Annotation, review and consensus"
