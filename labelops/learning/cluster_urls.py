"""The cluster explorer's endpoints, nested under a project (read-only)."""

from django.urls import path

from labelops.learning import cluster_views

urlpatterns = [
    path("projects/<int:project_pk>/clusters/", cluster_views.ClusterList.as_view(), name="cluster-list"),
    path("projects/<int:project_pk>/clusters/<int:cluster_pk>/items/", cluster_views.ClusterMembers.as_view(),
         name="cluster-members"),
]
