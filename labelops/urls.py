from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from labelops.api.root import api_root

api_v1 = [
    path("", api_root, name="api-root"),
    path("", include("labelops.projects.urls")),
    path("", include("labelops.items.urls")),
    path("", include("labelops.annotation.urls")),
    path("", include("labelops.quality.urls")),
    path("", include("labelops.learning.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The browser app and its login last: everything above wins.
    path("", include("labelops.web.urls")),
]
