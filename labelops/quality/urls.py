"""Quality endpoints, nested under a project: review, agreement, the
dashboard, Dawid-Skene and bulk labelling."""

from django.urls import path

from labelops.quality.api import agreement, bulk, consensus, dashboard, review

urlpatterns = [
    path("projects/<int:project_pk>/review/next/", review.ReviewNext.as_view(), name="review-next"),
    path("projects/<int:project_pk>/review/<int:item_pk>/decide/", review.ReviewDecide.as_view(),
         name="review-decide"),
    path("projects/<int:project_pk>/agreement/", agreement.Agreement.as_view(), name="agreement"),
    path("projects/<int:project_pk>/dashboard/", dashboard.Dashboard.as_view(), name="dashboard"),
    path("projects/<int:project_pk>/consensus/dawid-skene/", consensus.RecomputeDawidSkene.as_view(),
         name="consensus-dawid-skene"),
    path("projects/<int:project_pk>/bulk-labels/", bulk.BulkBatchList.as_view(), name="bulk-batch-list"),
    path("projects/<int:project_pk>/bulk-labels/<int:pk>/", bulk.BulkBatchDetail.as_view(),
         name="bulk-batch-detail"),
    path("projects/<int:project_pk>/bulk-labels/<int:pk>/cancel/", bulk.CancelBulkBatch.as_view(),
         name="bulk-batch-cancel"),
]
