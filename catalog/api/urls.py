"""URLs of the catalog API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("catalog/datasets", views.DatasetListView.as_view(), name="catalog-datasets"),
    path("catalog/datasets/<str:dataset_id>", views.DatasetDetailView.as_view(), name="catalog-dataset"),
    path("catalog/schemas/<str:dataset_id>", views.SchemaView.as_view(), name="catalog-schema"),
    path("catalog/lineage/<str:dataset_id>", views.LineageView.as_view(), name="catalog-lineage"),
]
