"""Annotation endpoints, nested under a project: the annotations, and the
annotator's queue."""

from django.urls import path

from labelops.annotation.api import annotations, queue

urlpatterns = [
    path("projects/<int:project_pk>/annotations/", annotations.AnnotationList.as_view(), name="annotation-list"),
    path(
        "projects/<int:project_pk>/items/<int:item_pk>/annotations/",
        annotations.ItemAnnotationList.as_view(),
        name="item-annotation-list",
    ),
    path("projects/<int:project_pk>/queue/next/", queue.NextItem.as_view(), name="queue-next"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/submit/", queue.SubmitLease.as_view(),
         name="lease-submit"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/skip/", queue.SkipLease.as_view(), name="lease-skip"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/heartbeat/", queue.HeartbeatLease.as_view(),
         name="lease-heartbeat"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/release/", queue.ReleaseLease.as_view(),
         name="lease-release"),
    path("projects/<int:project_pk>/queue/annotations/<int:pk>/undo/", queue.UndoAnnotation.as_view(),
         name="annotation-undo"),
]
