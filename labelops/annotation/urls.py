"""Annotation endpoints, nested under a project."""

from django.urls import path

from labelops.annotation import (
    bulk_views,
    consensus_views,
    dashboard_views,
    metrics_views,
    queue_views,
    review_views,
    views,
)

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
    path("projects/<int:project_pk>/review/next/", review_views.ReviewNext.as_view(), name="review-next"),
    path("projects/<int:project_pk>/review/<int:item_pk>/decide/", review_views.ReviewDecide.as_view(),
         name="review-decide"),
    path("projects/<int:project_pk>/agreement/", metrics_views.Agreement.as_view(), name="agreement"),
    path("projects/<int:project_pk>/dashboard/", dashboard_views.Dashboard.as_view(), name="dashboard"),
    path("projects/<int:project_pk>/consensus/dawid-skene/", consensus_views.RecomputeDawidSkene.as_view(),
         name="consensus-dawid-skene"),
    path("projects/<int:project_pk>/bulk-labels/", bulk_views.BulkBatchList.as_view(), name="bulk-batch-list"),
    path("projects/<int:project_pk>/bulk-labels/<int:pk>/", bulk_views.BulkBatchDetail.as_view(),
         name="bulk-batch-detail"),
    path("projects/<int:project_pk>/bulk-labels/<int:pk>/cancel/", bulk_views.CancelBulkBatch.as_view(),
         name="bulk-batch-cancel"),
]
