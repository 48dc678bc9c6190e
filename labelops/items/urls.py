"""Item, import and export endpoints, all nested under a project."""

from django.urls import path

from labelops.items.api import exports, imports, items

urlpatterns = [
    path("projects/<int:project_pk>/items/", items.ItemList.as_view(), name="item-list"),
    path("projects/<int:project_pk>/items/<int:pk>/", items.ItemDetail.as_view(), name="item-detail"),
    path("projects/<int:project_pk>/items/<int:pk>/file/", items.ItemFile.as_view(), name="item-file"),
    path("projects/<int:project_pk>/imports/", imports.ImportList.as_view(), name="import-list"),
    path("projects/<int:project_pk>/imports/<int:pk>/", imports.ImportDetail.as_view(), name="import-detail"),
    path("projects/<int:project_pk>/export/", exports.ExportView.as_view(), name="export"),
]
