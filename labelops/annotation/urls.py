"""Annotation endpoints, nested under a project: the annotations, and the
annotator's queue."""

from django.urls import path

from labelops.annotation import queue_views, views

urlpatterns = [
    path("projects/<int:project_pk>/annotations/", views.AnnotationList.as_view(), name="annotation-list"),
    path(
        "projects/<int:project_pk>/items/<int:item_pk>/annotations/",
        views.ItemAnnotationList.as_view(),
        name="item-annotation-list",
    ),
    path("projects/<int:project_pk>/queue/next/", queue_views.NextItem.as_view(), name="queue-next"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/submit/", queue_views.SubmitLease.as_view(),
         name="lease-submit"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/skip/", queue_views.SkipLease.as_view(), name="lease-skip"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/heartbeat/", queue_views.HeartbeatLease.as_view(),
         name="lease-heartbeat"),
    path("projects/<int:project_pk>/queue/leases/<int:pk>/release/", queue_views.ReleaseLease.as_view(),
         name="lease-release"),
    path("projects/<int:project_pk>/queue/annotations/<int:pk>/undo/", queue_views.UndoAnnotation.as_view(),
         name="annotation-undo"),
]
