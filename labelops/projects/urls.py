"""Project, member, quality-rule and taxonomy endpoints, and the API token.

Included under /api/v1/ by `labelops.urls`.
"""

from django.urls import path

from labelops.projects import views

urlpatterns = [
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_pk>/members/", views.MemberList.as_view(), name="member-list"),
    path("projects/<int:project_pk>/members/<int:pk>/", views.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:project_pk>/rules/", views.QualityRulesView.as_view(), name="quality-rules"),
    path("projects/<int:project_pk>/taxonomy/", views.ActiveTaxonomy.as_view(), name="taxonomy-active"),
    path(
        "projects/<int:project_pk>/taxonomy/versions/",
        views.TaxonomyVersionList.as_view(), name="taxonomy-version-list",
    ),
    path(
        "projects/<int:project_pk>/taxonomy/versions/<int:number>/",
        views.TaxonomyVersionDetail.as_view(), name="taxonomy-version-detail",
    ),
    # POST username and password, get {"token": ...} for `Authorization: Token ...`.
    # Not project-specific; it lives here until the API has an accounts app.
    path("auth/token/", views.ObtainToken.as_view(), name="auth-token"),
]
