"""Training round endpoints, nested under a project."""

from django.urls import path

from labelops.learning import views

urlpatterns = [
    path("projects/<int:project_pk>/rounds/", views.RoundList.as_view(), name="round-list"),
    path("projects/<int:project_pk>/rounds/<int:number>/", views.RoundDetail.as_view(), name="round-detail"),
    path("projects/<int:project_pk>/rounds/<int:number>/cancel/", views.CancelRound.as_view(), name="round-cancel"),
    path("projects/<int:project_pk>/rounds/<int:number>/learning-curve.png", views.LearningCurve.as_view(),
         name="round-learning-curve"),
]
