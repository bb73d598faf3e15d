"""URLs of the audits API; included at the root by petrosa_dm.urls (paths are the ecosystem contract, no prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("health/summary", views.HealthSummaryView.as_view(), name="health-summary"),
    path("health", views.PairHealthView.as_view(), name="health-pair"),
]
