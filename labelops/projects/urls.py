"""Project, member, quality-rule and taxonomy endpoints, and the API token.

Included under /api/v1/ by `labelops.urls`.
"""

from django.urls import path

from labelops.projects.api import members, projects, rules, taxonomy, tokens

urlpatterns = [
    path("projects/", projects.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_pk>/members/", members.MemberList.as_view(), name="member-list"),
    path("projects/<int:project_pk>/members/<int:pk>/", members.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:project_pk>/rules/", rules.QualityRulesView.as_view(), name="quality-rules"),
    path("projects/<int:project_pk>/taxonomy/", taxonomy.ActiveTaxonomy.as_view(), name="taxonomy-active"),
    path(
        "projects/<int:project_pk>/taxonomy/versions/",
        taxonomy.TaxonomyVersionList.as_view(), name="taxonomy-version-list",
    ),
    path(
        "projects/<int:project_pk>/taxonomy/versions/<int:number>/",
        taxonomy.TaxonomyVersionDetail.as_view(), name="taxonomy-version-detail",
    ),
    # POST username and password, get {"token": ...} for `Authorization: Token ...`.
    path("auth/token/", tokens.ObtainToken.as_view(), name="auth-token"),
]
