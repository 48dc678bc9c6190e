"""Training round and cluster explorer endpoints, nested under a project."""

from django.urls import path

from labelops.learning.api import clusters, rounds

urlpatterns = [
    path("projects/<int:project_pk>/rounds/", rounds.RoundList.as_view(), name="round-list"),
    path("projects/<int:project_pk>/rounds/<int:number>/", rounds.RoundDetail.as_view(), name="round-detail"),
    path("projects/<int:project_pk>/rounds/<int:number>/cancel/", rounds.CancelRound.as_view(), name="round-cancel"),
    path("projects/<int:project_pk>/rounds/<int:number>/learning-curve.png", rounds.LearningCurve.as_view(),
         name="round-learning-curve"),
    path("projects/<int:project_pk>/clusters/", clusters.ClusterList.as_view(), name="cluster-list"),
    path("projects/<int:project_pk>/clusters/<int:cluster_pk>/items/", clusters.ClusterMembers.as_view(),
         name="cluster-members"),
]
