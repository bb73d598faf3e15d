"""URLs of the backfills API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("backfill/start", views.BackfillStartView.as_view(), name="backfill-start"),
    path("backfill/jobs", views.BackfillJobListView.as_view(), name="backfill-jobs"),
    path("backfill/jobs/<int:pk>", views.BackfillJobDetailView.as_view(), name="backfill-job"),
]
