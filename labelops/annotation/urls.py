"""Annotation endpoints, nested under a project."""

from django.urls import path

from labelops.annotation import views

urlpatterns = [
    path("projects/<int:project_pk>/annotations/", views.AnnotationList.as_view(), name="annotation-list"),
    path(
        "projects/<int:project_pk>/items/<int:item_pk>/annotations/",
        views.ItemAnnotationList.as_view(),
        name="item-annotation-list",
    ),
]
